import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId } from '../../../src/domain/event.js';
import { bootstrapIndices } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, bytesSource, ingest, memoryLogger, searchableIds } from './support.js';

const env = testStoreEnv('ingest-bad');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);

beforeAll(async () => {
  await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

const zone = (price = '10.00', capacity = '5') =>
  `<zone zone_id="1" capacity="${capacity}" price="${price}" name="A" numbered="true"/>`;
const event = (id: string | null, start = '2022-03-01T20:00:00', z = zone()) =>
  `<event ${id === null ? '' : `event_id="${id}" `}event_start_date="${start}" event_end_date="2022-03-01T22:00:00" sold_out="false">${z}</event>`;
const base = (id: string, inner: string, mode = 'online') =>
  `<base_event base_event_id="${id}" sell_mode="${mode}" title="Show ${id}">${inner}</base_event>`;

describe('bad events in an otherwise good feed', () => {
  it('are skipped or recorded with a counted, logged reason; the rest is ingested', async () => {
    const invalidDates = Array.from({ length: 25 }, (_, i) =>
      base(`d${i}`, event('1', '2022-02-30T20:00:00'), 'offline'),
    ).join('');
    const feed =
      `<?xml version="1.0" encoding="UTF-8"?><eventList><output>` +
      base('good', event('1') + event('1')) + // the second is a duplicate identity
      base('noid', event(null)) +
      base('price', event('1', undefined, zone('ten euros'))) +
      `<advert size="big"><base_event base_event_id="hidden"/></advert>` +
      invalidDates +
      `</output></eventList>`;
    const { logger, lines } = memoryLogger();
    // 27 of 28 rejected on purpose: the format guard (its own test: edges/format-guard) is lifted.
    const result = await ingest(client, prefix, bytesSource(feed, 100), {
      logger,
      env: { INGEST_MAX_REJECTED_RATIO: '1' },
    });

    expect(result.ok).toBe(true);
    expect(result.run.counts).toEqual({
      base_events_read: 28,
      events_read: 29,
      events_upserted: 1,
      events_rejected: 27,
      bulk_failures: 0,
      rejected_by_reason: { missing_id: 1, invalid_price: 1, invalid_date: 25 },
      duplicates: 1,
    });
    expect(result.duplicates).toBe(1);
    expect(result.unknownElements).toEqual({ advert: 1 });

    const rejectedLines = lines.filter((l) => l.phase === 'event_rejected');
    expect(rejectedLines).toHaveLength(21); // 20 one by one, then one "only counted" line
    expect(rejectedLines[0]).toMatchObject({
      level: 'warn',
      reason: 'missing_id',
      detail: 'event_id is missing or malformed under base_event noid (undefined)',
    });
    expect(rejectedLines[1]).toMatchObject({
      reason: 'invalid_price',
      event: eventId('primary', 'price', '1'),
      detail: 'base_event price event 1: zone 1 has price "ten euros"',
    });
    expect(lines.filter((l) => l.phase === 'event_duplicate')).toHaveLength(1);

    const stored = await allEvents(client, prefix);
    expect(stored.size).toBe(1 + 1 + 25); // good, price, 25 invalid dates; noid is not stored
    expect(stored.get(eventId('primary', 'price', '1'))).toMatchObject({
      ever_online: true,
      last_rejection: { reason: 'invalid_price' },
    });
    expect(stored.get(eventId('primary', 'd0', '1'))).toMatchObject({ ever_online: false });
    expect(await searchableIds(client, prefix)).toEqual([eventId('primary', 'good', '1')]);
  });
});
