import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bootstrapIndices } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, bytesSource, fixture, ingest, withoutBookkeeping } from './support.js';

const single = testStoreEnv('ingest-single');
const concurrent = testStoreEnv('ingest-concurrent');
const client = testClient(single);

beforeAll(async () => {
  await bootstrapIndices(client, single.ES_INDEX_PREFIX);
  await bootstrapIndices(client, concurrent.ES_INDEX_PREFIX);
});

afterAll(async () => {
  await dropPrefix(client, single.ES_INDEX_PREFIX);
  await dropPrefix(client, concurrent.ES_INDEX_PREFIX);
  await client.close();
});

async function state(prefix: string) {
  const events = await allEvents(client, prefix);
  return Object.fromEntries([...events].map(([id, doc]) => [id, withoutBookkeeping(doc)]));
}

describe('two runs at the same time', () => {
  it.each([1, 2, 3])(
    'of response %i converge to the state of one run (inserts and updates racing)',
    async (n) => {
      const one = await ingest(client, single.ES_INDEX_PREFIX, bytesSource(fixture(n)));
      // Tiny batches and one item per request make the two runs interleave item by item.
      const both = await Promise.all([
        ingest(client, concurrent.ES_INDEX_PREFIX, bytesSource(fixture(n), 64), { flushBytes: 1 }),
        ingest(client, concurrent.ES_INDEX_PREFIX, bytesSource(fixture(n), 64), { flushBytes: 1 }),
      ]);
      expect([one.ok, ...both.map((r) => r.ok)]).toEqual([true, true, true]);
      expect(both.map((r) => r.run.counts.bulk_failures)).toEqual([0, 0]);
      expect(await state(concurrent.ES_INDEX_PREFIX)).toEqual(await state(single.ES_INDEX_PREFIX));
    },
  );
});
