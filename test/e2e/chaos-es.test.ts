/**
 * Chaos over real processes: a separate Elasticsearch node for this test only (scripts/es.sh on
 * its own port, stopped and started again by the test), two built APIs (`node dist/main/api.js`)
 * over it behind a load balancer that behaves like a Kubernetes Service (test/support/balancer.ts:
 * round robin over the endpoints whose /readyz passes, probed every 200 ms), and a keep-alive load
 * generator.
 *
 * 1. Elasticsearch stopped under load, through the balancer: both APIs stay ready (Elasticsearch is
 *    a metric, not a readiness condition), so cached windows keep answering 200, uncached windows
 *    get a fast 503 with Retry-After; when Elasticsearch is back everything recovers by itself,
 *    without restarting anything. An API that does stop is dropped by the balancer.
 * 2. SIGTERM under load: every request the API accepted is answered 200 (none cut, none failed),
 *    the rest were never accepted (connection refused), and the process exits 0 within its bound.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Agent, request } from 'undici';
import { parseEnv, storeEnv } from '../../src/config.js';
import { createEsClient, type Client } from '../../src/store/client.js';
import type { IndexNames } from '../../src/store/indices.js';
import {
  generatedRawEvents,
  SAMPLE_SUMMARIES,
  SAMPLE_RAWS,
  seedEvents,
  seedRun,
} from '../support/seed.js';
import { Balancer } from '../support/balancer.js';
import { eventually, freePort, node, ROOT, stop, type Proc } from '../support/processes.js';

const run = promisify(execFile);

/** The chaos node's HTTP port (its transport port is this + 100, as scripts/es.sh sets it). */
const ES_PORT = Number(process.env.CHAOS_ES_PORT ?? 9271);
const ES_URL = `http://127.0.0.1:${ES_PORT}`;
const PREFIX = `test-chaos-${process.pid}`;
const SHUTDOWN_TIMEOUT_MS = 5_000;

let es: Client;
let names: IndexNames;
let api: Proc;
let apiUrl: string;
/** The second API, behind the balancer with the first. */
let api2: Proc;
let api2Url: string;
let balancer: Balancer;

async function esScript(command: 'start' | 'stop'): Promise<void> {
  await run('bash', ['scripts/es.sh', command], {
    cwd: ROOT,
    env: { ...process.env, ES_PORT: String(ES_PORT) },
    timeout: 240_000,
  });
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

beforeAll(async () => {
  for (const port of [ES_PORT, ES_PORT + 100]) {
    if (!(await portFree(port))) {
      throw new Error(`port ${port} is taken: set CHAOS_ES_PORT to a free port pair (p, p+100)`);
    }
  }
  await esScript('start');
  es = createEsClient(parseEnv(storeEnv, { ELASTICSEARCH_URL: ES_URL, ES_INDEX_PREFIX: PREFIX }));
  names = await seedEvents(es, PREFIX, [...SAMPLE_RAWS, ...generatedRawEvents(400)]);
  await seedRun(es, names);

  [api, apiUrl] = await startApi();
  [api2, api2Url] = await startApi();
  for (const [proc, url] of [
    [api, apiUrl],
    [api2, api2Url],
  ] as const) {
    await eventually(
      async () => ((await fetch(`${url}/readyz`)).status === 200 ? true : undefined),
      30_000,
      `the API to be ready\n${proc.output()}`,
    );
  }
  balancer = new Balancer([apiUrl, api2Url], 200);
  await balancer.start();
}, 300_000);

async function startApi(): Promise<[Proc, string]> {
  const port = await freePort();
  const proc = node('api', {
    PORT: String(port),
    ELASTICSEARCH_URL: ES_URL,
    ES_INDEX_PREFIX: PREFIX,
    FRESHNESS_POLL_MS: '500',
    RETRY_AFTER_SECONDS: '3',
    // A stopped Elasticsearch refuses connections at once (the fast 503 below does not depend on
    // this timeout); a generous one keeps a freshly started node's slow first queries from
    // turning into 503s under the SIGTERM test's load.
    ES_REQUEST_TIMEOUT_MS: '3000',
    // Production-like, with a budget the test's one client cannot spend, and no load shedding:
    // Elasticsearch starting beside it takes both cores for a while, and a shed 503 (tested in
    // test/integration/api/load-shedding.test.ts) must not be mistaken for a failure here.
    RATE_LIMIT_MAX: '1000000',
    SHED_LAG_MS: '0',
    SHUTDOWN_DELAY_MS: '300',
    SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
  });
  return [proc, `http://127.0.0.1:${port}`];
}

afterAll(async () => {
  if (balancer) await balancer.stop();
  if (api2) await stop(api2, 'SIGKILL');
  if (api) await stop(api, 'SIGKILL');
  if (es) {
    await es.close();
    await esScript('stop');
    rmSync(join(ROOT, '.cache', 'elasticsearch', `node-${ES_PORT}`), {
      recursive: true,
      force: true,
    });
  }
}, 120_000);

const CACHED = '/search?starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
let uncachedSeq = 0;
/** A window no request asked for before (a cache miss: the API must ask Elasticsearch). */
function uncached(): string {
  uncachedSeq += 1;
  const start = new Date(Date.UTC(2022, 0, 1) + uncachedSeq * 61_000).toISOString();
  return `/search?starts_at=${start.replace('.000Z', 'Z')}`;
}

interface Outcome {
  path: string;
  status?: number;
  error?: string;
  ms: number;
  cache?: string;
}

/** `concurrency` keep-alive clients looping over `paths()` until stopped (or refused). */
/** Concurrent clients; each request carries an X-Request-Id starting with `idPrefix`. */
function load(
  paths: () => string,
  concurrency: number,
  pauseMs: number,
  idPrefix = 'load',
  base = apiUrl,
) {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: concurrency });
  const outcomes: Outcome[] = [];
  let running = true;
  let sent = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      const headers = { 'x-request-id': `${idPrefix}-${sent++}` };
      const path = paths();
      const started = Date.now();
      try {
        const res = await request(`${base}${path}`, { dispatcher: agent, headers });
        await res.body.text();
        const cache = res.headers['x-cache'];
        outcomes.push({
          path,
          status: res.statusCode,
          ms: Date.now() - started,
          cache: typeof cache === 'string' ? cache : undefined,
        });
      } catch (err) {
        const code = (err as { code?: string }).code ?? (err as Error).message;
        outcomes.push({ path, error: code, ms: Date.now() - started });
        if (code === 'ECONNREFUSED') break; // the listener is gone: nothing more will be accepted
      }
      if (pauseMs) await sleep(pauseMs);
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(workers);
      await agent.close();
    },
  };
}

async function get(path: string, base = apiUrl) {
  const started = Date.now();
  const res = await fetch(`${base}${path}`);
  return {
    status: res.status,
    ms: Date.now() - started,
    retryAfter: res.headers.get('retry-after'),
    cache: res.headers.get('x-cache'),
    body: (await res.json()) as unknown,
  };
}

/** `event_search_es_up` as the API at `base` reports it. */
async function esUp(base: string): Promise<number | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const match = /^event_search_es_up (\d+)$/m.exec(text);
  return match ? Number(match[1]) : undefined;
}

describe('Elasticsearch stopped while two APIs behind a Service-like balancer are under load', () => {
  it('keeps both endpoints, answers cached windows, fails fast, and recovers on its own', async () => {
    // Warm the window on both replicas (each has its own cache).
    const warm = await get(CACHED, apiUrl);
    expect(warm.status).toBe(200);
    expect((await get(CACHED, api2Url)).body).toEqual(warm.body);
    const events = (warm.body as { data: { events: unknown[] } }).data.events;
    expect(events.slice(0, 3)).toEqual(SAMPLE_SUMMARIES);
    expect(events.length).toBeGreaterThan(300);
    const answer = warm.body;
    const pids = [api.child.pid, api2.child.pid];
    await eventually(
      async () => (balancer.readyCount === 2 ? true : undefined),
      10_000,
      'the balancer to route to both APIs',
    );

    const traffic = load(() => CACHED, 4, 5, 'load', balancer.url);
    try {
      await eventually(
        async () => (traffic.outcomes.length >= 20 ? true : undefined),
        30_000,
        'traffic through the balancer',
      );
      await esScript('stop');

      // Both APIs see the outage (their metric)...
      for (const base of [apiUrl, api2Url]) {
        await eventually(
          async () => ((await esUp(base)) === 0 ? true : undefined),
          15_000,
          `${base} to report Elasticsearch down`,
        );
      }
      // ...yet stay ready: the balancer's next probe rounds keep both endpoints.
      const probes = balancer.endpoints.map((e) => e.probes);
      await eventually(
        async () =>
          balancer.endpoints.every((e, i) => e.probes >= (probes[i] ?? 0) + 2) ? true : undefined,
        10_000,
        'two more probe rounds',
      );
      expect(balancer.readyCount).toBe(2);

      // A cached window is answered through the balancer, by either replica, from its cache...
      for (let i = 0; i < 4; i++) {
        const cached = await get(CACHED, balancer.url);
        expect([cached.status, cached.cache]).toEqual([200, 'hit']);
        expect(cached.body).toEqual(answer);
      }
      // ...and an uncached one gets a fast 503 with Retry-After, every time.
      for (let i = 0; i < 6; i++) {
        const down = await get(uncached(), balancer.url);
        expect(down.status).toBe(503);
        expect(down.retryAfter).toBe('3');
        expect(down.body).toMatchObject({ error: { code: 'service_unavailable' }, data: null });
        expect(down.ms).toBeLessThan(1_000);
      }

      await esScript('start');

      // Everything recovers by itself: uncached windows are answered again, by both replicas.
      for (const base of [apiUrl, api2Url]) {
        await eventually(
          async () => ((await esUp(base)) === 1 ? true : undefined),
          30_000,
          `${base} to see Elasticsearch again`,
        );
      }
      const back = await eventually(
        async () => {
          const res = await get(
            '/search?starts_at=2021-06-01T00:00:00Z&ends_at=2021-08-01T00:00:00Z',
            balancer.url,
          );
          return res.status === 200 ? res : undefined;
        },
        15_000,
        'uncached windows to be answered again',
      );
      expect(back.body).toEqual({ data: { events: SAMPLE_SUMMARIES.slice(1) }, error: null });
      for (let i = 0; i < 2; i++) {
        expect((await get(uncached(), balancer.url)).status).toBe(200);
      }
    } finally {
      await traffic.stop();
    }

    // Through all of it the cached window never failed once, and both replicas served it.
    expect(traffic.outcomes.length).toBeGreaterThan(100);
    const failures = traffic.outcomes.filter((o) => o.status !== 200);
    expect(failures).toEqual([]);
    expect(balancer.endpoints.every((e) => e.served > 10)).toBe(true);
    // The same processes all along: recovery needed no restart.
    expect([api.child.pid, api2.child.pid]).toEqual(pids);
    expect(api.child.exitCode).toBeNull();
    expect(api2.child.exitCode).toBeNull();

    // The balancer does drop an endpoint whose readiness fails: stop the second API (its readiness
    // fails from the start of the shutdown), and every request goes to the first.
    await stop(api2, 'SIGTERM');
    await eventually(
      async () => (balancer.readyCount === 1 ? true : undefined),
      10_000,
      'the balancer to drop the stopped API',
    );
    const served = balancer.endpoints.map((e) => e.served);
    for (let i = 0; i < 4; i++) expect((await get(CACHED, balancer.url)).status).toBe(200);
    expect(balancer.endpoints[0]?.served).toBe((served[0] ?? 0) + 4);
    expect(balancer.endpoints[1]?.served).toBe(served[1]);
  }, 300_000);
});

describe('SIGTERM while the API is under load', () => {
  it('answers every request it accepted, then exits 0 within the bound', async () => {
    // Half cached (instant), half uncached (an Elasticsearch query in flight).
    let n = 0;
    // This test's request lines only: its requests carry their own X-Request-Id prefix (a line of
    // the previous test's traffic may still reach the log after this test starts).
    const traffic = load(() => (n++ % 2 === 0 ? CACHED : uncached()), 8, 0, 'sigterm');
    await sleep(1_000);
    const exited = api.exited;
    const signalled = Date.now();
    api.child.kill('SIGTERM');
    const { code } = await exited;
    const exitMs = Date.now() - signalled;
    await traffic.stop();

    expect(code).toBe(0);
    expect(exitMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 1_000);

    // What the API says it answered (one log line per finished request)...
    const served = api
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map(
        (line) =>
          JSON.parse(line) as {
            msg?: string;
            req_id?: string;
            route?: string;
            status?: number;
            aborted?: boolean;
            time?: string;
          },
      )
      .filter(
        (line) =>
          line.msg === 'request' && line.route === '/search' && line.req_id?.startsWith('sigterm-'),
      );
    expect(served.length).toBeGreaterThan(20);
    expect(served.filter((r) => r.status !== 200 || r.aborted)).toEqual([]);

    // ...is exactly what the clients received: every accepted request completed with 200. The
    // clients' errors are connections the API no longer accepted (refused, or closed idle).
    const ok = traffic.outcomes.filter((o) => o.status === 200);
    const other = traffic.outcomes.filter((o) => o.status !== undefined && o.status !== 200);
    expect(other).toEqual([]);
    expect(ok.length).toBe(served.length);
    const errors = new Set(traffic.outcomes.filter((o) => o.error).map((o) => o.error));
    for (const error of errors) {
      expect(['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE']).toContain(error);
    }
    // Requests were in flight when the signal came, and answered after it (the drain), some of
    // them Elasticsearch queries.
    expect(served.filter((r) => Date.parse(r.time ?? '') > signalled).length).toBeGreaterThan(0);
    expect(ok.some((o) => o.cache === 'miss')).toBe(true);
    expect(api.output()).toMatch(/"msg":"shutdown: listener closed, draining in-flight requests"/);
    expect(api.output()).toMatch(/"drained":true/);
  }, 60_000);
});
