/**
 * GET /search over a real Elasticsearch seeded with the three provider samples' final state.
 * Every /search response is validated against openapi.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Response } from 'supertest';
import type { RawEvent } from '../../../src/domain/event.js';
import { emptyRunCounts } from '../../../src/ingest/run-store.js';
import { bootstrapIndices, indexNames, type IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import {
  RAW_322,
  SAMPLE_IDS,
  SAMPLE_SUMMARIES,
  SAMPLE_RAWS,
  seedEvents,
  seedRun,
  writeRawEvents,
} from '../../support/seed.js';
import { buildApi } from './api-fixture.js';

const env = testStoreEnv('api-search');
const client = testClient(env);
let names: IndexNames;

/** Offline in the latest feed but online in an earlier one: still searchable. */
const WAS_ONLINE: RawEvent = {
  base_event_id: '9001',
  sell_mode: 'offline',
  title: 'Was online once',
  event_id: '1',
  event_start_date: '2023-03-01T18:00:00',
  event_end_date: '2023-03-01T19:00:00',
  sold_out: 'true',
  zones: [{ zone_id: '1', capacity: '10', price: '12.00' }],
};
/** Never online: never searchable, whatever its dates. */
const NEVER_ONLINE: RawEvent = { ...WAS_ONLINE, base_event_id: '9002', title: 'Never online' };

beforeAll(async () => {
  // Two real writes: WAS_ONLINE sold online in an earlier run, offline in the latest one.
  names = await seedEvents(client, env.ES_INDEX_PREFIX, [{ ...WAS_ONLINE, sell_mode: 'online' }]);
  await writeRawEvents(client, names, [...SAMPLE_RAWS, WAS_ONLINE, NEVER_ONLINE], {
    runId: 'seed-run-2',
  });
  await seedRun(client, names, { finished_at: '2021-08-01T00:00:00.000Z' });
});

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

type Api = ReturnType<typeof buildApi>;

async function search(api: Api, query: string, headers: Record<string, string> = {}) {
  const res = await api.http
    .get(`/search${query ? `?${query}` : ''}`)
    .set(headers)
    .send();
  return expectContract('/search', res);
}

function titles(res: Response): string[] {
  return (res.body as { data: { events: { title: string }[] } }).data.events.map((e) => e.title);
}

describe('GET /search (samples)', () => {
  const api = () => buildApi({ names });

  it('returns exactly 322, 291 and 1591 with their latest values for the reference window', async () => {
    const res = await search(api(), 'starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({ data: { events: SAMPLE_SUMMARIES }, error: null });
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(res.headers['cache-control']).toBe('public, max-age=5');
    expect(res.headers['x-cache']).toBe('miss');
  });

  it('never returns 444, and with no parameters returns every event ever online', async () => {
    const res = await search(api(), '');
    expect(res.status).toBe(200);
    const ids = (res.body as { data: { events: { id: string }[] } }).data.events.map((e) => e.id);
    expect(ids).not.toContain(SAMPLE_IDS[444]);
    expect(titles(res)).toEqual([
      'Pantomima Full',
      'Camela en concierto',
      'Los Morancos',
      'Was online once',
    ]);
  });

  it('sends sold-out and no-tickets-left events with null prices', async () => {
    const res = await search(api(), 'starts_at=2023-01-01T00:00:00Z');
    expect(res.body).toEqual({
      data: {
        events: [
          expect.objectContaining({
            title: 'Was online once',
            start_date: '2023-03-01',
            start_time: '18:00:00',
            min_price: null,
            max_price: null,
          }),
        ],
      },
      error: null,
    });
  });

  it('does not return an event the window cuts in half (291 runs 21:00-21:30)', async () => {
    const cutEnd = await search(
      api(),
      'starts_at=2021-06-30T00:00:00Z&ends_at=2021-06-30T21:15:00Z',
    );
    expect(titles(cutEnd)).toEqual([]);
    const cutStart = await search(
      api(),
      'starts_at=2021-06-30T21:15:00Z&ends_at=2021-07-01T00:00:00Z',
    );
    expect(titles(cutStart)).toEqual([]);
    const whole = await search(
      api(),
      'starts_at=2021-06-30T21:00:00Z&ends_at=2021-06-30T21:30:00Z',
    );
    expect(titles(whole)).toEqual(['Camela en concierto']); // both bounds inclusive
  });

  it('treats a missing bound as open', async () => {
    expect(titles(await search(api(), 'ends_at=2021-03-01T00:00:00Z'))).toEqual(['Pantomima Full']);
    expect(titles(await search(api(), 'starts_at=2021-07-01T00:00:00Z'))).toEqual([
      'Los Morancos',
      'Was online once',
    ]);
  });

  it("compares an instant with each event's instants, computed in its provider's zone", async () => {
    // 322 written by a provider in Madrid: 20:00-21:30 on 2021-02-10 (CET, UTC+1) = 19:00Z-20:30Z.
    const madridNames = await bootstrapIndices(client, `${env.ES_INDEX_PREFIX}-madrid`);
    await writeRawEvents(client, madridNames, [RAW_322], { timeZone: 'Europe/Madrid' });
    const madrid = buildApi({ names: madridNames });
    const q = 'starts_at=2021-02-10T19:00:00Z&ends_at=2021-02-10T20:30:00Z';
    expect(titles(await search(madrid, q))).toEqual(['Pantomima Full']);
    // The samples' provider is in UTC: 20:00-21:30Z is cut by that window.
    expect(titles(await search(api(), q))).toEqual([]);
    // The same instants written with Madrid's offset (a "+" must be sent as %2B).
    const withOffset = 'starts_at=2021-02-10T20:00:00%2B01:00&ends_at=2021-02-10T21:30:00%2B01:00';
    expect(titles(await search(madrid, withOffset))).toEqual(['Pantomima Full']);
    // Without an offset a bound is compared with the event's own wall clock, in both zones.
    const local = 'starts_at=2021-02-10T20:00:00&ends_at=2021-02-10T21:30:00';
    expect(titles(await search(madrid, local))).toEqual(['Pantomima Full']);
    expect(titles(await search(api(), local))).toEqual(['Pantomima Full']);
    // One second less at the end cuts it.
    const tight = 'starts_at=2021-02-10T19:00:00Z&ends_at=2021-02-10T20:29:59Z';
    expect(titles(await search(madrid, tight))).toEqual([]);
    await dropPrefix(client, madridNames.prefix);
  });

  describe('refuses bad queries with 400 and a code', () => {
    it.each([
      ['starts_at=tomorrow', 'invalid_starts_at', /starts_at is not a valid RFC 3339/],
      ['ends_at=2021-02-30T00:00:00Z', 'invalid_ends_at', /ends_at is not a valid RFC 3339/],
      ['starts_at=2021-02-01T00:00:00%2B25:00', 'invalid_starts_at', /invalid UTC offset/],
      ['starts_at=2021-02-01T00:00:00+02:00', 'invalid_starts_at', /%2B/],
      ['starts_at=', 'invalid_starts_at', /starts_at is empty/],
      [
        'starts_at=2021-03-01T00:00:00Z&ends_at=2021-02-01T00:00:00Z',
        'invalid_range',
        /starts_at .* is after ends_at/,
      ],
      [
        'ends_at=2021-03-01T00:00:00Z&ends_at=2021-04-01T00:00:00Z',
        'invalid_ends_at',
        /ends_at is given 2 times/,
      ],
    ])('%s -> %s', async (query, code, message) => {
      const res = await search(api(), query);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: { code, message: expect.stringMatching(message) },
        data: null,
      });
      expect(res.headers.etag).toBeUndefined();
    });
  });

  it('answers 304 to a matching If-None-Match, and 200 to a different one', async () => {
    const a = api();
    const q = 'starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
    const first = await search(a, q);
    const etag = String(first.headers.etag);
    const notModified = await search(a, q, { 'If-None-Match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.headers['x-cache']).toBe('hit');
    const listed = await search(a, q, { 'If-None-Match': `"other", ${etag}` });
    expect(listed.status).toBe(304);
    const changed = await search(a, q, { 'If-None-Match': '"something-else"' });
    expect(changed.status).toBe(200);
    expect(changed.body).toEqual(first.body);
  });

  it('gives equal windows one cache entry, and the same ETag on every replica', async () => {
    const one = buildApi({ names });
    const other = buildApi({ names });
    const a = await search(one, 'starts_at=2021-02-10T19:00:00Z');
    const b = await search(one, 'starts_at=2021-02-10T20:00:00%2B01:00');
    expect(b.headers['x-cache']).toBe('hit');
    const c = await search(other, 'starts_at=2021-02-10T14:00:00.000-05:00');
    expect(c.headers['x-cache']).toBe('miss');
    expect(new Set([a.headers.etag, b.headers.etag, c.headers.etag]).size).toBe(1);
  });

  it('serves from the cache until the poller sees that a run changed the data', async () => {
    const a = api();
    await a.poller.pollOnce();
    const q = 'starts_at=2021-02-01T00:00:00Z&ends_at=2021-03-01T00:00:00Z';
    const before = await search(a, q);
    expect(before.headers['x-cache']).toBe('miss');

    // The ingester updates 322 (one zone cheaper)...
    await writeRawEvents(client, names, [
      { ...RAW_322, zones: [...RAW_322.zones, { zone_id: '312', capacity: '5', price: '45.00' }] },
    ]);
    // ...but until its run is recorded and polled, this replica keeps its answer.
    const cached = await search(a, q);
    expect(cached.headers['x-cache']).toBe('hit');
    expect(cached.body).toEqual(before.body);

    // A run that changed nothing does not move the data version (docs/adr/0013-*.md)...
    await seedRun(client, names, { finished_at: new Date().toISOString() });
    await a.poller.pollOnce();
    expect((await search(a, q)).headers['x-cache']).toBe('hit');
    // ...one that changed an item does, successful or not (the changes stay written).
    const changed = { ...emptyRunCounts(), events_upserted: 1, items_changed: 1 };
    await seedRun(client, names, { outcome: 'failed', counts: changed });
    await a.poller.pollOnce();
    const after = await search(a, q);
    expect(after.headers['x-cache']).toBe('miss');
    expect(after.headers.etag).not.toBe(before.headers.etag);
    expect(
      (after.body as { data: { events: { min_price: number }[] } }).data.events[0],
    ).toMatchObject({
      min_price: 45,
      max_price: 55,
    });
    // A failed run that wrote nothing (the feed could not be read) invalidates nothing.
    await seedRun(client, names, { outcome: 'failed', finished_at: new Date().toISOString() });
    await a.poller.pollOnce();
    expect((await search(a, q)).headers['x-cache']).toBe('hit');
    // Put 322 back for the other tests.
    await writeRawEvents(client, names, [RAW_322]);
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await api().http.head('/search?starts_at=2021-02-01T00:00:00Z');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"/);
    expect(res.text).toBeUndefined();
  });
});

describe('the rest of the API', () => {
  it('answers unknown routes and methods with the envelope', async () => {
    const a = buildApi({ names });
    const missing = await a.http.get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      error: { code: 'not_found', message: 'No route for GET /nope' },
      data: null,
    });
    const post = await a.http.post('/search');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toContain('GET');
    expect(post.body).toMatchObject({ error: { code: 'method_not_allowed' }, data: null });
  });

  it('echoes a sane X-Request-Id and mints one otherwise', async () => {
    const a = buildApi({ names });
    const given = await a.http.get('/healthz').set('X-Request-Id', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const minted = await a.http.get('/healthz').set('X-Request-Id', 'bad id\twith spaces');
    expect(minted.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('has liveness and readiness probes: ready once the data version is read', async () => {
    const a = buildApi({ names });
    expect((await a.http.get('/healthz')).body).toEqual({ status: 'ok' });
    const cold = await a.http.get('/readyz');
    expect([cold.status, cold.body]).toEqual([
      503,
      { status: 'not_ready', reason: 'the data version has not been read yet' },
    ]);
    await a.poller.pollOnce();
    const ready = await a.http.get('/readyz');
    expect([ready.status, ready.body]).toEqual([200, { status: 'ready' }]);

    // Learning that there is no run yet (nothing ingested, no runs index) is a data version too.
    const empty = buildApi({ names: indexNames(`${names.prefix}-none`) });
    await empty.poller.pollOnce();
    expect(empty.poller.latest).toBeNull();
    expect((await empty.http.get('/readyz')).status).toBe(200);

    a.lifecycle.shuttingDown = true;
    const draining = await a.http.get('/readyz');
    expect([draining.status, draining.body]).toEqual([503, { status: 'shutting_down' }]);
    expect(draining.headers.connection).toBe('close');
  });

  it('exposes metrics labelled by route template, with cache lookups and data age', async () => {
    const a = buildApi({ names });
    await a.poller.pollOnce();
    await a.http.get('/search?starts_at=2021-02-01T00:00:00Z');
    const exact = await a.http.get('/search?starts_at=2021-02-01T00:00:00Z');
    // Another spelling the router matches (`GET /search` itself skips the router): the same
    // answer, the same route label.
    const spelled = await a.http.get('/Search/?starts_at=2021-02-01T00:00:00Z');
    expect([spelled.status, spelled.headers.etag, spelled.text]).toEqual([
      200,
      exact.headers.etag,
      exact.text,
    ]);
    await a.http.get('/no/such/path');
    const res = await a.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toMatch(
      /event_search_http_requests_total\{method="GET",route="\/search",status="200"\} 3/,
    );
    expect(text).toMatch(/route="unmatched",status="404"/);
    expect(text).not.toContain('/no/such/path');
    expect(text).toMatch(/event_search_search_cache_lookups_total\{result="hit"\} 2/);
    expect(text).toMatch(/event_search_search_cache_lookups_total\{result="miss"\} 1/);
    expect(text).toMatch(/event_search_es_request_duration_seconds_count\{operation="search"\} 1/);
    expect(text).toMatch(/event_search_data_age_seconds\{provider="primary"\} \d/);
    expect(text).toMatch(/event_search_es_up 1/);
  });

  it('serves its contract and Swagger UI over it', async () => {
    const a = buildApi({ names });
    const spec = await a.http.get('/openapi.yaml');
    expect(spec.status).toBe(200);
    expect(spec.headers['content-type']).toMatch(/^application\/yaml/);
    expect(spec.text).toContain('operationId: searchEvents');
    const docs = await a.http.get('/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers['content-type']).toMatch(/^text\/html/);
    expect(docs.text).toContain('"url":"/openapi.yaml"');
  });
});
