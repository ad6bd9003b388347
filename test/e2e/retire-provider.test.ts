/**
 * Retiring a provider (docs/adr/0014-many-providers.md) with the operator's command
 * (`npm run retire-provider`, a real process): a dry run counts and deletes nothing; `--yes`
 * deletes that provider's events and run records, and nothing of the other provider.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFreshness } from '../../src/api/search/freshness.js';
import { bootstrapIndices, type IndexNames } from '../../src/store/indices.js';
import { ndjsonOfXml } from '../../src/sim/ndjson.js';
import { bytesSource, fixture, ingest } from '../integration/ingest/support.js';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { start } from '../support/processes.js';

const store = testStoreEnv('e2e-retire');
const client = testClient(store);
let names: IndexNames;

async function retire(...args: string[]) {
  const proc = start(process.execPath, ['dist/main/retire-provider.js', ...args], {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  });
  const { code } = await proc.exited;
  return { code, output: proc.output() };
}

async function eventsOf(provider: string): Promise<number> {
  await client.indices.refresh({ index: names.eventsAlias });
  return (await client.count({ index: names.eventsAlias, query: { term: { provider } } })).count;
}

beforeAll(async () => {
  names = await bootstrapIndices(client, store.ES_INDEX_PREFIX);
  // 'gone' first: the newest run that changed data is kept's, so only the retirement itself can
  // move the data version.
  const gone = await ingest(
    client,
    store.ES_INDEX_PREFIX,
    bytesSource(await ndjsonOfXml(fixture(1))),
    {
      provider: 'gone',
      format: 'ndjson',
    },
  );
  const kept = await ingest(client, store.ES_INDEX_PREFIX, bytesSource(fixture(1)), {
    provider: 'kept',
  });
  expect([kept.ok, gone.ok]).toEqual([true, true]);
});

afterAll(async () => {
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

describe('retire-provider', () => {
  it('refuses a missing or malformed name with exit code 2', async () => {
    expect((await retire()).code).toBe(2);
    expect((await retire('Not A Name')).code).toBe(2);
  });

  it('counts without --yes and deletes nothing', async () => {
    const before = await eventsOf('gone');
    expect(before).toBeGreaterThanOrEqual(3);
    const dry = await retire('gone');
    expect(dry.code).toBe(0);
    expect(dry.output).toContain(`would delete ${before} events and 1 run records of gone`);
    expect(await eventsOf('gone')).toBe(before);
  });

  it('with --yes deletes its events and run records only, and moves the data version', async () => {
    const kept = await eventsOf('kept');
    const before = (await readFreshness(client, names)).newest;
    const done = await retire('gone', '--yes');
    expect(done.code).toBe(0);
    expect(done.output).toContain('provider gone retired');
    expect(await eventsOf('gone')).toBe(0);
    expect(await eventsOf('kept')).toBe(kept);
    const freshness = await readFreshness(client, names);
    expect(freshness.providers.map((p) => p.provider)).toEqual(['kept']);
    // Every API replica drops the answers it cached with the retired events.
    expect(freshness.newest?.dataVersion).not.toBe(before?.dataVersion);
    expect(freshness.newest?.runId).toBe(before?.runId);
    // Done: nothing left to retire (the retirement's own record stays, as its trace).
    const again = await retire('gone');
    expect(again.output).toContain('would delete 0 events and 0 run records of gone');
  });
});
