/**
 * Issue 16, item 6: a run whose rejected share exceeds INGEST_MAX_REJECTED_RATIO (default 0.5)
 * fails before writing anything, naming the top three rejection reasons with an example each
 * (docs/adr/0002-*.md). A changed feed format no longer looks like a healthy run.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, bytesSource, ingest, memoryLogger } from '../ingest/support.js';
import { bootstrap, feedXml, type FeedEvent } from './support.js';

const env = testStoreEnv('edge-guard');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);

const event = (base: string, changes: Partial<FeedEvent> = {}): FeedEvent => ({
  base,
  start: '2022-09-01T20:00:00',
  end: '2022-09-01T22:00:00',
  ...changes,
});
/** A provider that changed its format: decimal commas, `Online`, dates with an offset. */
const CHANGED: FeedEvent[] = [
  event('p1', { zones: [{ price: '20,50', capacity: '5' }] }),
  event('p2', { zones: [{ price: '21,50', capacity: '5' }] }),
  event('p3', { zones: [{ price: '22,50', capacity: '5' }] }),
  event('m1', { mode: 'Online' }),
  event('m2', { mode: 'Online' }),
  event('d1', { start: '2022-09-01T20:00:00+02:00' }),
  event('x1', { title: '' }),
  event('ok'),
];

beforeAll(async () => {
  await bootstrap(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('format guard', () => {
  it('fails a run that rejects more than the bound, before writing anything, naming the top reasons', async () => {
    const { logger, lines } = memoryLogger();
    const result = await ingest(client, prefix, bytesSource(feedXml(CHANGED)), { logger });
    expect(result.ok).toBe(false);
    expect(result.run.outcome).toBe('failed');
    expect(result.run.counts).toMatchObject({
      events_read: 8,
      events_rejected: 7,
      events_upserted: 0,
    });
    const error = result.run.error ?? '';
    expect(error).toMatch(/7 of 8 events rejected \(88%\), above INGEST_MAX_REJECTED_RATIO 0\.5/);
    expect(error).toMatch(/invalid_price: 3 \(e\.g\. .*20,50/);
    expect(error).toMatch(/invalid_sell_mode: 2 \(e\.g\. .*Online/);
    expect(error).toMatch(/invalid_date: 1 \(e\.g\. .*\+02:00/);
    expect(error).not.toMatch(/missing_title/);
    expect((await getRun(client, prefix, result.run.run_id))?.error).toBe(error);
    expect(lines).toContainEqual(
      expect.objectContaining({ phase: 'format_guard', events_rejected: 7, events_read: 8 }),
    );
    // Nothing was written: not the valid event, not the rejections.
    expect((await allEvents(client, prefix)).size).toBe(0);
  });

  it('a run at the bound, or with a bound raised, writes as before', async () => {
    const half = [
      event('a'),
      event('b'),
      event('c', { mode: 'Online' }),
      event('d', { mode: 'Online' }),
    ];
    const atBound = await ingest(client, prefix, bytesSource(feedXml(half)));
    expect(atBound.ok).toBe(true);
    const raised = await ingest(client, prefix, bytesSource(feedXml(CHANGED)), {
      env: { INGEST_MAX_REJECTED_RATIO: '1' },
    });
    expect(raised.ok).toBe(true);
    expect(raised.run.counts).toMatchObject({ events_upserted: 1, events_rejected: 7 });
  });
});
