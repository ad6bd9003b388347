/**
 * Two ingest runs of different feeds writing at the same time (the CronJob's Forbid policy makes
 * this rare, a manual run makes it possible). Every event must end as one of the two runs left it
 * (as if the runs had been applied one after the other, in either order), nothing lost, and
 * `ever_online` set when either feed had the event online.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bootstrapIndices } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, bytesSource, fixture, ingest, withoutBookkeeping } from './support.js';

const envs = {
  firstThenSecond: testStoreEnv('ingest-ab'),
  secondThenFirst: testStoreEnv('ingest-ba'),
  concurrent: testStoreEnv('ingest-concurrent'),
};
const client = testClient(envs.concurrent);

beforeAll(async () => {
  for (const env of Object.values(envs)) await bootstrapIndices(client, env.ES_INDEX_PREFIX);
});

afterAll(async () => {
  for (const env of Object.values(envs)) await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

async function state(prefix: string) {
  const events = await allEvents(client, prefix);
  return Object.fromEntries([...events].map(([id, doc]) => [id, withoutBookkeeping(doc)]));
}

describe('two runs of different feeds at the same time', () => {
  it.each([
    [1, 2],
    [2, 3],
    [1, 3],
  ])(
    'of responses %i and %i: each event as one of the two orders leaves it',
    async (a, b) => {
      const ab = envs.firstThenSecond.ES_INDEX_PREFIX;
      const ba = envs.secondThenFirst.ES_INDEX_PREFIX;
      const both = envs.concurrent.ES_INDEX_PREFIX;
      for (const env of Object.values(envs)) {
        await dropPrefix(client, env.ES_INDEX_PREFIX);
        await bootstrapIndices(client, env.ES_INDEX_PREFIX);
      }
      for (const [prefix, order] of [
        [ab, [a, b]],
        [ba, [b, a]],
      ] as const) {
        for (const n of order)
          expect((await ingest(client, prefix, bytesSource(fixture(n)))).ok).toBe(true);
      }
      // Tiny batches and one item per request make the two runs interleave item by item.
      const runs = await Promise.all([
        ingest(client, both, bytesSource(fixture(a), 64), { flushBytes: 1 }),
        ingest(client, both, bytesSource(fixture(b), 64), { flushBytes: 1 }),
      ]);
      expect(runs.map((r) => [r.ok, r.run.counts.bulk_failures])).toEqual([
        [true, 0],
        [true, 0],
      ]);

      const sequentialAb = await state(ab);
      const sequentialBa = await state(ba);
      const concurrent = await state(both);
      // The two feeds really differ: the order matters for some event.
      expect(sequentialAb).not.toEqual(sequentialBa);
      expect(Object.keys(concurrent).sort()).toEqual(Object.keys(sequentialAb).sort());
      for (const [id, doc] of Object.entries(concurrent)) {
        expect([sequentialAb[id], sequentialBa[id]]).toContainEqual(doc);
        expect(doc.ever_online).toBe(sequentialAb[id]?.ever_online);
      }
      // Three bootstraps and eight runs: more than jest's default 5 s on a loaded machine.
    },
    60_000,
  );
});
