/**
 * Elasticsearch going away: the API talks to the real node through a TCP relay this test can close
 * (a closed port, as when Elasticsearch is stopped) and reopen, with the API's production client
 * settings (short timeout, no retries).
 */
import { createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import { SAMPLE_SUMMARIES, SAMPLE_RAWS, seedEvents, seedRun } from '../../support/seed.js';
import { Relay } from '../../support/relay.js';
import { buildApi } from './api-fixture.js';

const env = testStoreEnv('api-outage');
const admin = testClient(env);
const relay = new Relay(new URL(env.ELASTICSEARCH_URL));
let names: IndexNames;

beforeAll(async () => {
  names = await seedEvents(admin, env.ES_INDEX_PREFIX, [...SAMPLE_RAWS]);
  await seedRun(admin, names);
  await relay.open();
});

afterAll(async () => {
  await relay.close();
  await dropPrefix(admin, env.ES_INDEX_PREFIX);
  await admin.close();
});

/** Failed Elasticsearch searches the API counted. */
async function searchErrors(api: ReturnType<typeof buildApi>): Promise<number> {
  const errors = await api.metrics.esErrors.get();
  return errors.values.find((v) => v.labels.operation === 'search')?.value ?? 0;
}

const CACHED = '/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
const UNCACHED = '/search?starts_at=2021-03-01T00:00:00Z';

describe('with Elasticsearch unreachable', () => {
  it('answers cached windows, 503s uncached ones fast, and recovers by itself', async () => {
    const api = buildApi({ names, url: `http://127.0.0.1:${relay.port}` });
    await api.poller.pollOnce();
    const warm = expectContract('/search', await api.http.get(CACHED));
    expect(warm.headers['x-cache']).toBe('miss');

    await relay.close();

    // A cached window is answered from the cache.
    const cached = expectContract('/search', await api.http.get(CACHED));
    expect(cached.status).toBe(200);
    expect(cached.headers['x-cache']).toBe('hit');
    expect(cached.body).toEqual({ data: { events: SAMPLE_SUMMARIES }, error: null });

    // An uncached one gets a 503 with Retry-After, after one refused attempt (no retries).
    const errorsBefore = await searchErrors(api);
    const down = expectContract('/search', await api.http.get(UNCACHED));
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBe('5');
    expect(down.headers['cache-control']).toBe('no-store');
    expect(down.body).toEqual({
      error: { code: 'service_unavailable', message: expect.stringMatching(/unavailable/) },
      data: null,
    });
    expect((await searchErrors(api)) - errorsBefore).toBe(1);

    // The freshness poll fails quietly and says so in a metric; the replica stays ready (it can
    // serve its cache); the cache is kept.
    await api.poller.pollOnce();
    expect((await api.metrics.esUp.get()).values[0]?.value).toBe(0);
    expect((await api.http.get('/readyz')).status).toBe(200);
    expect((await api.http.get(CACHED)).headers['x-cache']).toBe('hit');

    // Even after an invalidation the last answer is served (stale) rather than an error.
    api.cache.invalidate();
    const stale = expectContract('/search', await api.http.get(CACHED));
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('stale');
    expect(stale.body).toEqual(cached.body);

    // Elasticsearch is back: answers resume without a restart.
    await relay.open();
    const back = expectContract('/search', await api.http.get(UNCACHED));
    expect(back.status).toBe(200);
    expect(back.headers['x-cache']).toBe('miss');
    expect((await api.http.get('/readyz')).status).toBe(200);
    const metrics = (await api.http.get('/metrics')).text;
    expect(metrics).toMatch(/event_search_search_cache_lookups_total\{result="stale"\} 1/);
    expect(metrics).toMatch(/event_search_es_request_errors_total\{operation="search"\} [12]/);
  });

  it('gives a 503 within the request timeout when Elasticsearch accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    const blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const port = (blackHole.address() as { port: number }).port;
    const api = buildApi({
      names,
      url: `http://127.0.0.1:${port}`,
      env: { ES_REQUEST_TIMEOUT_MS: '300' },
    });
    try {
      const started = Date.now();
      const res = expectContract('/search', await api.http.get(UNCACHED));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      // Cut by the per-request timeout (300 ms), not by the client's 5 s backstop.
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(await searchErrors(api)).toBe(1);
    } finally {
      await api.stop();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });
});
