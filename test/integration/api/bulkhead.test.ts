/**
 * The bulkhead (docs/adr/0012-production-semantics.md) over the real Elasticsearch, through the
 * real builder: cache misses beyond ES_MAX_CONCURRENT_QUERIES get a fast 503 `overloaded` with
 * Retry-After while cached windows still answer 200; multi-page answers (the whole index) beyond
 * ES_MAX_OPEN_PITS likewise. Elasticsearch is made slow on demand by a relay that holds its
 * connections, so the queries that fill the bulkhead are really in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import { Relay } from '../../support/relay.js';
import { SAMPLE_RAWS, SAMPLE_SUMMARIES, seedEvents, seedRun } from '../../support/seed.js';
import { waitUntil } from '../../support/wait.js';
import { buildApi } from './api-fixture.js';

const env = testStoreEnv('api-bulkhead');
const admin = testClient(env);
const relay = new Relay(new URL(env.ELASTICSEARCH_URL));
let names: IndexNames;

beforeAll(async () => {
  names = await seedEvents(admin, env.ES_INDEX_PREFIX, [...SAMPLE_RAWS]);
  await seedRun(admin, names);
  await relay.open();
});

afterAll(async () => {
  relay.release();
  await relay.close();
  await dropPrefix(admin, env.ES_INDEX_PREFIX);
  await admin.close();
});

const CACHED = '/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
/** Distinct windows no one asked for yet (each a cache miss). */
const uncached = (day: number) =>
  `/search?starts_at=2021-01-${String(day).padStart(2, '0')}T00:00:00Z`;

async function rejections(api: ReturnType<typeof buildApi>, reason: string): Promise<number> {
  const values = (await api.metrics.bulkheadRejections.get()).values;
  return values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

describe('the bulkhead on Elasticsearch queries', () => {
  it('refuses misses beyond ES_MAX_CONCURRENT_QUERIES with a fast 503; cached windows answer', async () => {
    const api = buildApi({
      names,
      url: `http://127.0.0.1:${relay.port}`,
      // A held query must wait for the relay, not time out; no line in front of the bulkhead.
      env: {
        ES_MAX_CONCURRENT_QUERIES: '2',
        ES_QUERY_QUEUE: '0',
        ES_REQUEST_TIMEOUT_MS: '60000',
      },
    });
    await api.poller.pollOnce();
    expect(expectContract('/search', await api.http.get(CACHED)).headers['x-cache']).toBe('miss');

    // Elasticsearch turns slow: two misses take both slots and stay in flight.
    relay.hold();
    const inFlight = [1, 2].map((day) => api.http.get(uncached(day)).then((res) => res));
    await waitUntil(() => api.bulkheads.queries.inUse === 2, 'two queries hold the bulkhead');
    let settled = 0;
    for (const request of inFlight) void request.then(() => (settled += 1));

    // Five more distinct misses, at once: each refused without waiting for Elasticsearch.
    const refused = await Promise.all(
      [3, 4, 5, 6, 7].map((day) => api.http.get(uncached(day)).then((res) => res)),
    );
    for (const res of refused) {
      expectContract('/search', res);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({
        error: { code: 'overloaded', message: expect.stringMatching(/Too many searches/) },
        data: null,
      });
    }
    expect(await rejections(api, 'queries')).toBe(5);

    // The cache still answers, without a slot.
    const hit = expectContract('/search', await api.http.get(CACHED));
    expect([hit.status, hit.headers['x-cache']]).toEqual([200, 'hit']);
    expect(hit.body).toEqual({ data: { events: SAMPLE_SUMMARIES }, error: null });
    // ...and all of that while the two slow queries were still waiting on Elasticsearch.
    expect(settled).toBe(0);
    expect(api.bulkheads.queries.inUse).toBe(2);

    // Elasticsearch answers again: the held queries complete, the slots come back.
    relay.release();
    for (const res of await Promise.all(inFlight)) expect(res.status).toBe(200);
    expect(api.bulkheads.queries.inUse).toBe(0);
    expect((await api.http.get(uncached(3))).status).toBe(200);
  });
});

describe('the line in front of the query bulkhead', () => {
  /** An API with one query slot and a line of one, its slot taken by a query Elasticsearch holds. */
  async function oneSlotTaken(waitMs: string, day: number) {
    const api = buildApi({
      names,
      url: `http://127.0.0.1:${relay.port}`,
      env: {
        ES_MAX_CONCURRENT_QUERIES: '1',
        ES_QUERY_QUEUE: '1',
        ES_QUERY_QUEUE_WAIT_MS: waitMs,
        ES_REQUEST_TIMEOUT_MS: '60000',
      },
    });
    await api.poller.pollOnce();
    relay.hold();
    const running = api.http.get(uncached(day)).then((res) => res);
    await waitUntil(() => api.bulkheads.queries.inUse === 1, 'one query holds the bulkhead');
    return { api, running };
  }

  it('lets ES_QUERY_QUEUE misses wait for a slot and refuses the rest at once', async () => {
    const { api, running } = await oneSlotTaken('60000', 11);
    const waiting = api.http.get(uncached(12)).then((res) => res);
    await waitUntil(() => api.bulkheads.queries.queued === 1, 'one miss waits for a slot');
    // The line is full: refused without waiting.
    const refused = expectContract('/search', await api.http.get(uncached(13)));
    expect([refused.status, refused.headers['retry-after']]).toEqual([503, '1']);
    expect(await rejections(api, 'queries')).toBe(1);

    relay.release();
    for (const res of await Promise.all([running, waiting])) {
      expect([expectContract('/search', res).status, res.headers['x-cache']]).toEqual([
        200,
        'miss',
      ]);
    }
    expect([api.bulkheads.queries.inUse, api.bulkheads.queries.queued]).toEqual([0, 0]);
  });

  it('refuses a miss that waited ES_QUERY_QUEUE_WAIT_MS for a slot', async () => {
    const { api, running } = await oneSlotTaken('50', 21);
    // The slot stays taken while the relay holds: the waiter is refused after its wait.
    const refused = expectContract('/search', await api.http.get(uncached(22)));
    expect([refused.status, refused.body.error.code]).toEqual([503, 'overloaded']);
    expect(api.bulkheads.queries.queued).toBe(0);
    relay.release();
    expect((await running).status).toBe(200);
  });
});

describe('the bound on open points in time (whole-index and other multi-page answers)', () => {
  it('refuses a multi-page answer while ES_MAX_OPEN_PITS are open, then streams it whole', async () => {
    // One event per page: the whole index takes a point in time; answers are not cached.
    const api = buildApi({
      names,
      env: { SEARCH_PAGE_SIZE: '1', ES_MAX_OPEN_PITS: '1', CACHE_MAX_ENTRY_BYTES: '64' },
    });
    await api.poller.pollOnce();
    // Another answer holds the only point in time.
    const releaseHeld = api.bulkheads.pits.acquire();
    const refused = expectContract('/search', await api.http.get('/search'));
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toEqual({
      error: { code: 'overloaded', message: expect.stringMatching(/very large answers/) },
      data: null,
    });
    expect(await rejections(api, 'points_in_time')).toBe(1);
    // The refusal took no query slot with it.
    expect(api.bulkheads.queries.inUse).toBe(0);

    releaseHeld();
    const whole = expectContract('/search', await api.http.get('/search'));
    expect(whole.status).toBe(200);
    expect(whole.body).toEqual({ data: { events: SAMPLE_SUMMARIES }, error: null });
    await waitUntil(() => api.bulkheads.pits.inUse === 0, 'the point in time is released');
    // A known-oversize window streams again (the path that reads its first page before answering).
    expect((await api.http.get('/search')).status).toBe(200);
  });
});
