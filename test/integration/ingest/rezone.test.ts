/**
 * Re-zoning a provider (src/ingest/rezone.ts) over a real Elasticsearch, on events written by the
 * real writer: the provider's events get the instants of the corrected zone, other providers' are
 * untouched, the data version moves (and only when something changed), a held ingest lease stops
 * it before any write, and the provider's next run rewrites the events its feed carries from the
 * zone it is configured with.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { acquireLease, LeaseHeldError } from '../../../src/ingest/lease.js';
import { rezoneProvider } from '../../../src/ingest/rezone.js';
import { timeFieldsOf } from '../../../src/store/event-document.js';
import { bootstrapIndices, indexNames, type EventDocument } from '../../../src/store/indices.js';
import { latestDataChange, latestSuccessfulRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { PROVIDER, SAMPLE_RAWS, seedRun, writeRawEvents } from '../../support/seed.js';

const env = testStoreEnv('rezone');
const client = testClient(env);
const names = indexNames(env.ES_INDEX_PREFIX);
const OTHER = 'other';
const MADRID = 'Europe/Madrid';

beforeAll(async () => {
  await bootstrapIndices(client, names.prefix);
  // Both providers' events written with the zone they were (wrongly) configured with: UTC.
  await writeRawEvents(client, names, [...SAMPLE_RAWS], { provider: PROVIDER });
  await writeRawEvents(client, names, [...SAMPLE_RAWS], { provider: OTHER });
  await seedRun(client, names, { run_id: 'ingest-1', finished_at: '2021-08-01T00:00:00.000Z' });
});
afterAll(() => dropPrefix(client, names.prefix).finally(() => client.close()));

async function documentsOf(provider: string): Promise<EventDocument[]> {
  await client.indices.refresh({ index: names.eventsAlias });
  const res = await client.search<EventDocument>({
    index: names.eventsAlias,
    size: 100,
    query: { bool: { filter: [{ term: { provider } }, { exists: { field: 'period' } }] } },
  });
  return res.hits.hits.map((hit) => hit._source as EventDocument);
}

const options = { client, prefix: names.prefix, zone: MADRID };

describe('rezoneProvider', () => {
  it('counts what it would change in a dry run, and writes nothing', async () => {
    const before = await documentsOf(PROVIDER);
    const result = await rezoneProvider({ ...options, provider: PROVIDER, dryRun: true });
    expect(result).toEqual({ examined: before.length, changed: before.length });
    expect(before.length).toBeGreaterThan(0);
    expect(await documentsOf(PROVIDER)).toEqual(before);
  });

  it('stops before writing when a run of the provider holds its lease', async () => {
    const lease = await acquireLease({
      client,
      index: names.leaseIndex,
      runId: 'running-ingest',
      provider: PROVIDER,
      ttlMs: 60_000,
    });
    try {
      const before = await documentsOf(PROVIDER);
      await expect(
        rezoneProvider({ ...options, provider: PROVIDER, dryRun: false }),
      ).rejects.toThrow(LeaseHeldError);
      expect(await documentsOf(PROVIDER)).toEqual(before);
    } finally {
      await lease.release();
    }
  });

  it("rewrites the provider's zone and instants, moves the data version, and leaves other providers alone", async () => {
    const others = await documentsOf(OTHER);
    const versionBefore = await latestDataChange(client, names.prefix);
    const result = await rezoneProvider({ ...options, provider: PROVIDER, dryRun: false });

    const docs = await documentsOf(PROVIDER);
    expect(result).toMatchObject({ examined: docs.length, changed: docs.length });
    for (const doc of docs) {
      if (!doc.period) throw new Error('a document with a period was expected');
      expect(doc).toMatchObject(timeFieldsOf(doc.period, MADRID));
      // Madrid is ahead of UTC: the same wall clock is an earlier instant.
      expect(doc.starts_at_instant).not.toBe(timeFieldsOf(doc.period, 'UTC').starts_at_instant);
      expect(doc.content_hash ?? null).toBeNull();
    }
    expect(await documentsOf(OTHER)).toEqual(others);

    // The data version moves to this command's record; the provider's freshness does not.
    const change = await latestDataChange(client, names.prefix);
    expect(change?.run_id).toBe(result.runId);
    expect(change?.run_id).not.toBe(versionBefore?.run_id);
    expect(change).toMatchObject({ outcome: 'maintenance', provider: PROVIDER });
    expect(change?.counts.items_changed).toBe(docs.length);
    expect((await latestSuccessfulRun(client, names.prefix, PROVIDER))?.run_id).toBe('ingest-1');
  });

  it('changes nothing, and records nothing, when run again', async () => {
    const before = await latestDataChange(client, names.prefix);
    const result = await rezoneProvider({ ...options, provider: PROVIDER, dryRun: false });
    expect(result).toEqual({ examined: (await documentsOf(PROVIDER)).length, changed: 0 });
    expect((await latestDataChange(client, names.prefix))?.run_id).toBe(before?.run_id);
  });

  it("leaves the provider's next run free to rewrite the events its feed carries from its configured zone", async () => {
    // A run still configured with UTC (the zone was given to the command but not to the CronJob):
    // its documents' hash equals the one stored before the command, which the command cleared,
    // so the run writes them back rather than skipping them as unchanged.
    await writeRawEvents(client, names, [...SAMPLE_RAWS], { provider: PROVIDER, timeZone: 'UTC' });
    for (const doc of await documentsOf(PROVIDER)) {
      if (!doc.period) throw new Error('a document with a period was expected');
      expect(doc).toMatchObject(timeFieldsOf(doc.period, 'UTC'));
    }
  });
});
