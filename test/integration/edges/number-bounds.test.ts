/**
 * Issue 16, item 2: prices are finite decimals within a documented range, capacities non-negative
 * integers up to 2^53 - 1 (docs/adr/0002-*.md). An out-of-range number rejects its event with a
 * reason before the write; it never becomes `null` in an answer, and it never makes a run fail.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId } from '../../../src/domain/event.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents } from '../ingest/support.js';
import { bootstrap, eventsOf, ingestFeed, searchApi, type FeedEvent } from './support.js';

const env = testStoreEnv('edge-numbers');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

const START = '2022-05-01T20:00:00';
const END = '2022-05-01T22:00:00';
const at = (base: string, zones: FeedEvent['zones']): FeedEvent => ({
  base,
  title: base,
  start: START,
  end: END,
  zones,
});

const FEED: FeedEvent[] = [
  // Prices.
  at('price-huge', [{ price: `1${'0'.repeat(400)}`, capacity: '5' }]),
  at('price-above-max', [{ price: '1000000000.0001', capacity: '5' }]),
  at('price-too-precise', [{ price: '20.123456', capacity: '5' }]),
  at('price-max', [{ price: '999999999.9999', capacity: '5' }]),
  // Capacities.
  at('capacity-3e9', [{ price: '30.00', capacity: '3000000000' }]),
  at('capacity-max', [{ price: '40.00', capacity: '9007199254740991' }]),
  at('capacity-2p53', [{ price: '40.00', capacity: '9007199254740992' }]),
  at('capacity-sum-over', [
    { price: '40.00', capacity: '9007199254740991' },
    { price: '41.00', capacity: '1' },
  ]),
];

beforeAll(async () => {
  names = await bootstrap(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('number bounds', () => {
  it('rejects out-of-range prices and capacities with a reason, stores the rest, and every run succeeds', async () => {
    for (let run = 1; run <= 2; run++) {
      // 5 of 8 rejected on purpose: above the format guard's default bound (50%).
      const result = await ingestFeed(client, prefix, FEED, {
        env: { INGEST_MAX_REJECTED_RATIO: '1' },
      });
      expect(result.run.outcome).toBe('succeeded');
      expect(result.run.counts).toMatchObject({
        events_read: 8,
        events_upserted: 3,
        events_rejected: 5,
        bulk_failures: 0,
        rejected_by_reason: { invalid_price: 3, invalid_capacity: 2 },
      });
    }

    const stored = await allEvents(client, prefix);
    const doc = (base: string) => stored.get(eventId('primary', base, '1'));
    expect(doc('capacity-3e9')?.available_capacity).toBe(3_000_000_000);
    expect(doc('capacity-max')?.available_capacity).toBe(9_007_199_254_740_991);
    expect(doc('price-huge')).toMatchObject({
      last_rejection: { reason: 'invalid_price' },
    });
    expect(doc('price-huge')?.last_rejection?.detail).toMatch(/is above the maximum 1000000000$/);
    expect(doc('price-too-precise')?.last_rejection?.detail).toMatch(/more than 4 decimals/);
    expect(doc('capacity-sum-over')?.last_rejection?.detail).toMatch(
      /capacities add up to more than the maximum 9007199254740991/,
    );

    const res = await searchApi(names)('starts_at=2022-05-01T00:00:00Z');
    expect(eventsOf(res).map((e) => [e.title, e.min_price, e.max_price])).toEqual(
      [
        ['capacity-3e9', 30, 30],
        ['capacity-max', 40, 40],
        ['price-max', 999999999.9999, 999999999.9999],
      ].sort((a, b) =>
        // The API orders by start (all equal here), then by id.
        eventId('primary', a[0] as string, '1') < eventId('primary', b[0] as string, '1') ? -1 : 1,
      ),
    );
  });
});
