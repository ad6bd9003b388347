/**
 * Issue 16, item 3: one ever-online rule, whatever the order of the sightings: an online sighting
 * counts, valid or not; only valid values are ever served (docs/adr/0002-*.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bootstrap, eventsOf, ingestFeed, searchApi, titlesOf, type FeedEvent } from './support.js';

const env = testStoreEnv('edge-online');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

const START = '2022-07-01T20:00:00';
const END = '2022-07-01T22:00:00';
const sighting = (base: string, mode: string, price: string, title = base): FeedEvent => ({
  base,
  mode,
  title,
  start: START,
  end: END,
  zones: [{ price, capacity: '5' }],
});
/** Rejected as `invalid_price` (a decimal comma). */
const BAD_PRICE = '20,50';
const options = { env: { INGEST_MAX_REJECTED_RATIO: '1' } };

beforeAll(async () => {
  names = await bootstrap(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('ever online', () => {
  it('an invalid online sighting counts in either order; only valid values are served', async () => {
    // A: offline-valid, online-invalid, offline-valid. B: online-invalid, offline-valid.
    await ingestFeed(client, prefix, [sighting('a', 'offline', '10.00', 'A first')], options);
    await ingestFeed(
      client,
      prefix,
      [sighting('a', 'online', BAD_PRICE), sighting('b', 'online', BAD_PRICE)],
      options,
    );
    const search = searchApi(names);
    // The invalid values are never served: A keeps its valid values, B has none yet.
    expect(titlesOf(await search('starts_at=2022-07-01T00:00:00Z'))).toEqual(['A first']);

    await ingestFeed(
      client,
      prefix,
      [sighting('a', 'offline', '12.00', 'A again'), sighting('b', 'offline', '15.00', 'B')],
      options,
    );
    const events = eventsOf(await searchApi(names)('starts_at=2022-07-01T00:00:00Z'));
    expect(events.map((e) => [e.title, e.min_price]).sort()).toEqual([
      ['A again', 12],
      ['B', 15],
    ]);
  });
});
