import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId, normaliseEvent } from '../../../src/domain/event.js';
import { baseEventAt, generateFeed, type FeedOptions } from '../../../src/sim/feed.js';
import { bootstrapIndices, indexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, ingest } from './support.js';

const env = testStoreEnv('ingest-generated');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
const options: FeedOptions = { baseEvents: 1_500, zonesPerEvent: 8, seed: 11 };

beforeAll(async () => {
  await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('a generated feed through the whole pipeline', () => {
  it('stores every event, in several bulk batches, with the values the generator chose', async () => {
    const result = await ingest(
      client,
      prefix,
      { open: async () => ({ body: generateFeed(options) }) },
      { flushBytes: 200_000 },
    );
    expect(result.error?.message).toBeUndefined();
    expect(result.run.counts).toMatchObject({
      base_events_read: 1_500,
      events_read: 1_500,
      events_upserted: 1_500,
      events_rejected: 0,
      bulk_failures: 0,
    });
    const count = await client.count({ index: indexNames(prefix).eventsAlias });
    expect(count.count).toBe(1_500);

    const stored = await allEvents(client, prefix); // the first 1000 by id is plenty
    for (const index of [0, 1, 777, 1_499]) {
      const base = baseEventAt(options, index);
      const ev = base.events[0];
      if (!ev) throw new Error('no event');
      const id = eventId('primary', base.base_event_id, ev.event_id);
      const expected = normaliseEvent('primary', { ...base, ...ev });
      if (!expected.ok) throw new Error(expected.detail);
      const doc =
        stored.get(id) ?? (await client.get({ index: indexNames(prefix).eventsAlias, id }))._source;
      expect(doc).toMatchObject({
        title: base.title,
        starts_at: expected.event.starts_at,
        min_price: expected.event.min_price,
        max_price: expected.event.max_price,
        ever_online: base.sell_mode === 'online',
      });
    }
  }, 60_000);
});
