/**
 * A large generated feed is returned whole and in order: more hits than one search_after page,
 * read from one point in time; and above the cache's size bound the answer is streamed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { normaliseEvent, toSummary, type EventSummary } from '../../../src/domain/event.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import { generatedRawEvents, PROVIDER, seedEvents } from '../../support/seed.js';
import { buildApi } from './api-fixture.js';

const COUNT = 2_500;
const env = testStoreEnv('api-large');
const client = testClient(env);
let names: IndexNames;
let expected: EventSummary[];

beforeAll(async () => {
  const raws = generatedRawEvents(COUNT);
  names = await seedEvents(client, env.ES_INDEX_PREFIX, raws);
  // The domain's answer: every valid event that is (or was) sold online, as its summary.
  expected = raws
    .map((raw) => normaliseEvent(PROVIDER, raw))
    .flatMap((r) => (r.ok && r.event.sell_mode === 'online' ? [toSummary(r.event)] : []))
    .sort((a, b) => {
      const ka = `${a.start_date}T${a.start_time}`;
      const kb = `${b.start_date}T${b.start_time}`;
      if (ka !== kb) return ka < kb ? -1 : 1;
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });
});

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

describe('GET /search with thousands of events', () => {
  it('returns every online event, ordered by start then id, across several pages', async () => {
    expect(expected).toHaveLength(COUNT - COUNT / 10); // every tenth is offline
    const api = buildApi({ names, env: { SEARCH_PAGE_SIZE: '1000' } });
    const res = expectContract('/search', await api.http.get('/search'));
    expect(res.status).toBe(200);
    const events = (res.body as { data: { events: EventSummary[] } }).data.events;
    expect(events).toHaveLength(expected.length);
    expect(events).toEqual(expected);
    // Several pages, all from one point in time; the first page was asked once more inside it.
    // (The reader's request metric counts them per operation.)
    const calls = (await api.metrics.esDuration.get()).values
      .filter((v) => v.metricName?.endsWith('_count'))
      .map((v) => [v.labels.operation, v.value]);
    expect(Object.fromEntries(calls)).toEqual({ search: 4, open_point_in_time: 1 });
    expect(res.headers.etag).toBeDefined();
  });

  it('returns a window of them whole (bounds applied across pages)', async () => {
    const api = buildApi({ names, env: { SEARCH_PAGE_SIZE: '100' } });
    const res = expectContract(
      '/search',
      await api.http.get('/search?starts_at=2022-01-10T00:00:00Z&ends_at=2022-01-20T00:00:00Z'),
    );
    const inside = expected.filter(
      (e) =>
        `${e.start_date}T${e.start_time}` >= '2022-01-10T00:00:00' &&
        `${e.end_date}T${e.end_time}` <= '2022-01-20T00:00:00',
    );
    expect(inside.length).toBeGreaterThan(300);
    expect((res.body as { data: { events: EventSummary[] } }).data.events).toEqual(inside);
  });

  it('streams an answer above the cache bound: same bytes, no ETag, not cached', async () => {
    const cached = buildApi({ names });
    const reference = await cached.http.get('/search');
    const streaming = buildApi({
      names,
      env: { SEARCH_PAGE_SIZE: '500', CACHE_MAX_ENTRY_BYTES: String(64 * 1024) },
    });
    const res = expectContract('/search', await streaming.http.get('/search'));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.text).toBe(reference.text);
    const again = await streaming.http.get('/search');
    expect(again.headers['x-cache']).toBe('miss');
    expect(again.text).toBe(reference.text);
  });
});
