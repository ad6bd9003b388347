/**
 * Issue 16, item 4: an identity that appears more than once in one feed is written once, from its
 * last valid copy (the last copy when none is valid); the duplicates are counted in the run record
 * and in the ingest metrics (docs/adr/0002-*.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId } from '../../../src/domain/event.js';
import { recordRunMetrics } from '../../../src/ingest/metrics.js';
import { createIngestMetrics } from '../../../src/observability/metrics.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { getRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents } from '../ingest/support.js';
import { bootstrap, eventsOf, ingestFeed, searchApi, type FeedEvent } from './support.js';

const env = testStoreEnv('edge-dups');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

const copy = (base: string, title: string, price: string, mode = 'online'): FeedEvent => ({
  base,
  mode,
  title,
  start: '2022-08-01T20:00:00',
  end: '2022-08-01T22:00:00',
  zones: [{ price, capacity: '5' }],
});

beforeAll(async () => {
  names = await bootstrap(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('duplicates within one feed', () => {
  it('the last valid copy wins, and the duplicates are counted in the run record and metrics', async () => {
    const result = await ingestFeed(client, prefix, [
      // invalid first, valid later: the valid one wins
      copy('a', 'A invalid', '20,50'),
      copy('a', 'A valid', '11.00'),
      // two valid: the last wins
      copy('b', 'B first', '21.00'),
      copy('b', 'B last', '22.00'),
      // valid, then invalid: the valid one wins (a later invalid copy does not hide it)
      copy('c', 'C valid', '31.00'),
      copy('c', 'C invalid', '-1'),
      // the only online copy is invalid: the event is still online (ADR 0002's ever-online rule)
      copy('d', 'D invalid', '20,50', 'online'),
      copy('d', 'D offline', '41.00', 'offline'),
    ]);
    expect(result.run.counts).toMatchObject({
      events_read: 8,
      events_upserted: 4,
      events_rejected: 0,
      duplicates: 4,
    });
    expect((await getRun(client, prefix, result.run.run_id))?.counts.duplicates).toBe(4);

    const stored = await allEvents(client, prefix);
    expect(stored.get(eventId('primary', 'a', '1'))?.last_rejection).toBeNull();
    const res = await searchApi(names)('starts_at=2022-08-01T00:00:00Z');
    expect(
      eventsOf(res)
        .map((e) => [e.title, e.min_price])
        .sort(),
    ).toEqual([
      ['A valid', 11],
      ['B last', 22],
      ['C valid', 31],
      ['D offline', 41],
    ]);

    const metrics = createIngestMetrics();
    recordRunMetrics(metrics, result.run);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^event_search_ingest_duplicate_events 4$/m);
  });
});
