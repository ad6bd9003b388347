/**
 * Load shedding for real: the API (over the real Elasticsearch, seeded) with a real LoadShedder
 * (node's event-loop delay histogram and timer drift), while something hogs the event loop. /search
 * answers a fast 503 `overloaded` with Retry-After, probes and /metrics keep answering, and answers
 * resume once the loop is free.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LoadShedder } from '../../../src/api/http/load-shedding.js';
import { portOf } from '../../../src/api/http/server.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { expectContract } from '../../support/openapi.js';
import { SAMPLE_SUMMARIES, SAMPLE_RAWS, seedEvents, seedRun } from '../../support/seed.js';
import { waitUntil } from '../../support/wait.js';
import { buildApi } from './api-fixture.js';
import { rawGet } from './raw-http.js';

const env = testStoreEnv('api-shed');
const client = testClient(env);
let names: IndexNames;
let server: Server;
let port: number;
let base: ReturnType<typeof buildApi>;
let shedder: LoadShedder;

beforeAll(async () => {
  names = await seedEvents(client, env.ES_INDEX_PREFIX, [...SAMPLE_RAWS]);
  await seedRun(client, names);
  base = buildApi({
    names,
    env: { SHED_LAG_MS: '40', SHED_SAMPLE_MS: '20', SHED_RETRY_AFTER_SECONDS: '1' },
  });
  if (!base.shedder) throw new Error('SHED_LAG_MS > 0 builds a shedder');
  shedder = base.shedder;
  server = await base.start();
  port = portOf(server);
  await waitUntil(() => base.poller.warmed, 'the API has read the data version (ready)');
});

afterAll(async () => {
  await base.stop();
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
      await waitUntil(() => shedder.overloaded, 'the shedder sees the lag');
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
    await waitUntil(() => !shedder.overloaded, 'the shedder sees the loop free');
    const after = expectContract('/search', await rawGet(port, WINDOW));
    expect([after.status, after.body]).toEqual([
      200,
      { data: { events: SAMPLE_SUMMARIES }, error: null },
    ]);
    const shedCount = (await base.metrics.shed.get()).values[0]?.value ?? 0;
    expect(shedCount).toBeGreaterThanOrEqual(1);
  });
});
