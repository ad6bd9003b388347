/**
 * Correcting a provider's zone (docs/runbook.md, "Correcting a provider's time zone") with the
 * operator's command (`npm run rezone-provider`, a real process) over events a real ingest run
 * wrote: usage errors exit 2, a held ingest lease exits 3 having written nothing, a dry run counts,
 * `--yes` rewrites the instants and moves the data version the API reads.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFreshness } from '../../src/api/search/freshness.js';
import { acquireLease } from '../../src/ingest/lease.js';
import { bootstrapIndices, type EventDocument, type IndexNames } from '../../src/store/indices.js';
import { bytesSource, fixture, ingest } from '../integration/ingest/support.js';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { start } from '../support/processes.js';

const store = testStoreEnv('e2e-rezone');
const client = testClient(store);
let names: IndexNames;

async function rezone(...args: string[]) {
  const proc = start(process.execPath, ['dist/main/rezone-provider.js', ...args], {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  });
  const { code } = await proc.exited;
  return { code, output: proc.output() };
}

async function zonesOf(provider: string): Promise<string[]> {
  await client.indices.refresh({ index: names.eventsAlias });
  const res = await client.search<EventDocument>({
    index: names.eventsAlias,
    size: 100,
    query: { bool: { filter: [{ term: { provider } }, { exists: { field: 'period' } }] } },
  });
  return [...new Set(res.hits.hits.map((hit) => hit._source?.timezone ?? 'none'))];
}

beforeAll(async () => {
  names = await bootstrapIndices(client, store.ES_INDEX_PREFIX);
  const run = await ingest(client, store.ES_INDEX_PREFIX, bytesSource(fixture(1)), {
    provider: 'primary',
  });
  expect(run.ok).toBe(true);
});

afterAll(async () => {
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

describe('rezone-provider', () => {
  it('refuses a missing name, a malformed name or an unknown zone with exit code 2', async () => {
    expect((await rezone()).code).toBe(2);
    expect((await rezone('Not A Name', 'Europe/Madrid')).code).toBe(2);
    expect((await rezone('primary', 'Mars/Olympus')).code).toBe(2);
  });

  it('exits 3 and writes nothing while a run of the provider holds its lease', async () => {
    const lease = await acquireLease({
      client,
      index: names.leaseIndex,
      runId: 'running-ingest',
      provider: 'primary',
      ttlMs: 60_000,
    });
    try {
      const held = await rezone('primary', 'Europe/Madrid', '--yes');
      expect(held.code).toBe(3);
      expect(held.output).toContain('running-ingest');
      expect(await zonesOf('primary')).toEqual(['UTC']);
    } finally {
      await lease.release();
    }
  });

  it('counts without --yes, rewrites with it, and moves the data version', async () => {
    const dry = await rezone('primary', 'Europe/Madrid');
    expect(dry.code).toBe(0);
    expect(dry.output).toMatch(
      /would rewrite [1-9]\d* of [1-9]\d* events of primary in Europe\/Madrid/,
    );
    expect(await zonesOf('primary')).toEqual(['UTC']);

    const before = (await readFreshness(client, names)).newest;
    const done = await rezone('primary', 'Europe/Madrid', '--yes');
    expect(done.code).toBe(0);
    expect(done.output).toContain('now in Europe/Madrid');
    expect(await zonesOf('primary')).toEqual(['Europe/Madrid']);
    const after = (await readFreshness(client, names)).newest;
    expect(after?.dataVersion).not.toBe(before?.dataVersion);
    expect(after?.runId).toBe(before?.runId);
  });
});
