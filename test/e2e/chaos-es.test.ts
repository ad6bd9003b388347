/**
 * Chaos over real processes: a separate Elasticsearch node for this test only (scripts/es.sh on
 * its own port, stopped and started again by the test), the built API (`node dist/main/api.js`)
 * over it, and a keep-alive load generator.
 *
 * 1. Elasticsearch stopped under load: cached windows keep answering 200, readiness fails, uncached
 *    windows get a fast 503 with Retry-After; when Elasticsearch is back everything recovers by
 *    itself, without restarting the API.
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

  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  api = node('api', {
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
  await eventually(
    async () => ((await fetch(`${apiUrl}/readyz`)).status === 200 ? true : undefined),
    30_000,
    `the API to be ready\n${api.output()}`,
  );
}, 300_000);

afterAll(async () => {
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
function load(paths: () => string, concurrency: number, pauseMs: number, idPrefix = 'load') {
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
        const res = await request(`${apiUrl}${path}`, { dispatcher: agent, headers });
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

async function get(path: string) {
  const started = Date.now();
  const res = await fetch(`${apiUrl}${path}`);
  return {
    status: res.status,
    ms: Date.now() - started,
    retryAfter: res.headers.get('retry-after'),
    cache: res.headers.get('x-cache'),
    body: (await res.json()) as unknown,
  };
}

describe('Elasticsearch stopped while the API is under load', () => {
  it('keeps answering cached windows, fails fast and readiness, and recovers on its own', async () => {
    const warm = await get(CACHED);
    expect(warm.status).toBe(200);
    const events = (warm.body as { data: { events: unknown[] } }).data.events;
    expect(events.slice(0, 3)).toEqual(SAMPLE_SUMMARIES);
    expect(events.length).toBeGreaterThan(300);
    const answer = warm.body;
    const pid = api.child.pid;

    const traffic = load(() => CACHED, 4, 5);
    try {
      await sleep(500);
      await esScript('stop');

      // Readiness fails, so the Service stops routing new traffic to this replica...
      await eventually(
        async () => ((await fetch(`${apiUrl}/readyz`)).status === 503 ? true : undefined),
        10_000,
        'readiness to fail',
      );
      // ...while a cached window is still answered, from the cache...
      const cached = await get(CACHED);
      expect([cached.status, cached.cache]).toEqual([200, 'hit']);
      expect(cached.body).toEqual(answer);
      // ...and an uncached one gets a fast 503 with Retry-After, every time.
      for (let i = 0; i < 5; i++) {
        const down = await get(uncached());
        expect(down.status).toBe(503);
        expect(down.retryAfter).toBe('3');
        expect(down.body).toMatchObject({ error: { code: 'service_unavailable' }, data: null });
        expect(down.ms).toBeLessThan(1_000);
      }

      await esScript('start');

      // Everything recovers by itself: readiness, then uncached windows.
      await eventually(
        async () => ((await fetch(`${apiUrl}/readyz`)).status === 200 ? true : undefined),
        30_000,
        'readiness to recover',
      );
      const back = await eventually(
        async () => {
          const res = await get(
            '/search?starts_at=2021-06-01T00:00:00Z&ends_at=2021-08-01T00:00:00Z',
          );
          return res.status === 200 ? res : undefined;
        },
        15_000,
        'uncached windows to be answered again',
      );
      expect(back.body).toEqual({ data: { events: SAMPLE_SUMMARIES.slice(1) }, error: null });
    } finally {
      await traffic.stop();
    }

    // Through all of it the cached window never failed once.
    expect(traffic.outcomes.length).toBeGreaterThan(100);
    const failures = traffic.outcomes.filter((o) => o.status !== 200);
    expect(failures).toEqual([]);
    // The same process all along: recovery needed no restart.
    expect(api.child.pid).toBe(pid);
    expect(api.child.exitCode).toBeNull();
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
