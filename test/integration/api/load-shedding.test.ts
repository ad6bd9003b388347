/**
 * Load shedding for real: the API (over the real Elasticsearch, seeded) with a real LoadShedder
 * (node's event-loop delay histogram and timer drift), while something hogs the event loop. /search
 * answers a fast 503 `overloaded` with Retry-After, probes and /metrics keep answering, and answers
 * resume once the loop is free.
 */
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createApp } from '../../../src/api/app.js';
import { LoadShedder } from '../../../src/api/load-shedding.js';
import { listen, portOf } from '../../../src/api/server.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import { SAMPLE_SUMMARIES, sampleDocuments, seedEvents, seedRun } from '../../support/seed.js';
import { buildApi } from './api-fixture.js';
import { rawGet } from './raw-http.js';

const env = testStoreEnv('api-shed');
const client = testClient(env);
let names: IndexNames;
let server: Server;
let port: number;
let base: ReturnType<typeof buildApi>;
const shedder = new LoadShedder({ maxLagMs: 40, sampleIntervalMs: 20 });

beforeAll(async () => {
  names = await seedEvents(client, env.ES_INDEX_PREFIX, sampleDocuments());
  await seedRun(client, names);
  base = buildApi({ client, names });
  const app = createApp({
    logger: createLogger({ name: 'api-test', level: 'silent' }),
    metrics: base.metrics,
    cache: base.cache,
    reader: base.reader,
    providerTimeZone: 'UTC',
    cacheMaxAgeSeconds: 5,
    retryAfterSeconds: 5,
    shedder,
    shedRetryAfterSeconds: 1,
  });
  server = await listen(app.callback(), { port: 0 });
  port = portOf(server);
  shedder.start();
});

afterAll(async () => {
  shedder.stop();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

const WINDOW = '/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';

/** Hogs the event loop: 100 ms of synchronous work every 10 ms, until stopped. */
function hogEventLoop(): () => void {
  const timer = setInterval(() => {
    const until = Date.now() + 100;
    while (Date.now() < until);
  }, 10);
  return () => clearInterval(timer);
}

describe('load shedding when the event loop lags', () => {
  it('sheds /search with a fast 503 while the loop lags, never the probes, and recovers', async () => {
    const before = expectContract('/search', await rawGet(port, WINDOW));
    expect(before.status).toBe(200);
    expect(shedder.overloaded).toBe(false);

    const release = hogEventLoop();
    let shed;
    try {
      await sleep(250);
      expect(shedder.overloaded).toBe(true);
      shed = expectContract('/search', await rawGet(port, WINDOW));
      // Probes and metrics are still answered, lag or not.
      expect((await rawGet(port, '/healthz')).status).toBe(200);
      expect((await rawGet(port, '/readyz')).status).toBe(200);
      expect((await rawGet(port, '/metrics')).status).toBe(200);
    } finally {
      release();
    }
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.body).toEqual({
      error: { code: 'overloaded', message: expect.stringMatching(/overloaded/) },
      data: null,
    });
    expect(shedder.lagMs).toBeGreaterThan(40);

    // The loop is free again: answers resume by themselves.
    await sleep(200);
    expect(shedder.overloaded).toBe(false);
    const after = expectContract('/search', await rawGet(port, WINDOW));
    expect([after.status, after.body]).toEqual([
      200,
      { data: { events: SAMPLE_SUMMARIES }, error: null },
    ]);
    const shedCount = (await base.metrics.shed.get()).values[0]?.value ?? 0;
    expect(shedCount).toBeGreaterThanOrEqual(1);
  });
});
