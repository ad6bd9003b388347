/**
 * Search benchmarks, each against a baseline measured in the same run on the same machine:
 *
 *  1. Hot search: the real API process (metrics, OpenTelemetry tracing exporting over OTLP, JSON
 *     logs: configured as in production) answering a cached window, vs a bare Koa server returning
 *     the same bytes. Same autocannon load. Figures: req/s ratio, latency percentiles.
 *
 * Throughput counts only answers that succeeded (2xx); a side with failures prints them, and its
 * ratio is capped at the target and reported as not met.
 *  2. Cold search: the API with its cache off, a different window on every request, vs the same
 *     Elasticsearch queries sent straight to Elasticsearch, measured in rounds taken in turn
 *     (direct, API, then API, direct: `--rounds N`, default 2). Figures: req/s ratio of all rounds
 *     and each round's, p99.
 *
 * Needs a running Elasticsearch (ELASTICSEARCH_URL, default http://127.0.0.1:9200) and a build
 * (`npm run build`). Data: a generated feed ingested by the real ingest entry point.
 *
 *   npm run bench:search             full run (~2 minutes; each phase after 5 s of warm-up, not counted)
 *   npm run bench:search -- --phase cold --rounds 3   the cold phase in three rounds
 *   npm run bench:search -- --small  a seconds-long smoke run (used by `make test`)
 *   BENCH_SAMPLE_RATIO=0 npm run bench:search   the traced API sampling nothing (default 0.1)
 *   npm run bench:search -- --phase cold        only one phase (hot or cold), e.g. to profile it
 *   npm run bench:search -- --phase cold --connections 1   one client: latency at low load
 *   BENCH_API_ENV='ACCESS_LOG=all SHED_LAG_MS=0' npm run bench:search -- --phase cold
 *       the API processes with these settings on top of the production ones (an ablation: what
 *       one setting costs; space-separated NAME=value pairs, applied last)
 *
 * Beside each server's throughput: the response bytes per answer, and the CPU (user + system) its
 * process used per succeeded answer with the system part (the kernel's work for the process: on
 * loopback, a socket write also delivers the bytes to the reader and wakes it) (from /proc, Linux
 * only), a figure the machine's other work moves less than throughput; in the
 * cold phase also Elasticsearch's (from `_nodes/stats`): the API batches concurrent misses into one
 * `_msearch` (docs/adr/0017-*.md), which saves Elasticsearch per-request work the direct baseline
 * (each query its own `_search`, as a client without the API sends it) pays.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { parseSearchWindow } from '../src/domain/search-window.js';
import { SORT, windowQuery } from '../src/api/search/event-reader.js';
import { indexNames } from '../src/store/indices.js';
import { createProviderSim } from '../src/sim/server.js';

const small = process.argv.includes('--small');
/** `--phase hot|cold`: run only that phase (default both). */
const phaseArg = process.argv.indexOf('--phase');
const phase = phaseArg >= 0 ? process.argv[phaseArg + 1] : undefined;
if (phase !== undefined && phase !== 'hot' && phase !== 'cold') {
  throw new Error(`--phase takes hot or cold, not ${String(phase)}`);
}
const runHot = phase !== 'cold';
const runCold = phase !== 'hot';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ES = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
const PREFIX = `bench-${process.pid}`;
const DURATION = small ? 2 : 10;
/**
 * Seconds of the same load, not counted, before each measured phase: the JIT of the server measured
 * (Elasticsearch's JVM above all, which a fresh node runs several times slower) is warm on both
 * sides of every ratio. Without it, the first cold phase after Elasticsearch starts measures a cold
 * JVM as the baseline, and the API, measured after it, on a warmer one.
 */
const WARM_UP = small ? 0 : 5;
/** `--connections N`: the load's connections (default 50; e.g. 1 for latency at low load). */
const connectionsArg = process.argv.indexOf('--connections');
const CONNECTIONS =
  connectionsArg >= 0 ? Number(process.argv[connectionsArg + 1]) : small ? 10 : 50;
if (!Number.isInteger(CONNECTIONS) || CONNECTIONS < 1) {
  throw new Error(`--connections takes a positive integer`);
}
/** Pause between a warm-up and its measured load, and between two measured loads (below). */
const SETTLE_MS = 1_000;
/**
 * `--rounds N`: the cold phase's measured loads, N rounds of both sides, direct first in the first
 * round, the API first in the second, and so on (default 2; 1 with `--small`). Elasticsearch's
 * state drifts during a run (its JIT, its caches, the machine's other work); in turns, and in
 * both orders, both sides see the same drift, and the rounds' own ratios show the spread within
 * one run.
 */
const roundsArg = process.argv.indexOf('--rounds');
const COLD_ROUNDS = roundsArg >= 0 ? Number(process.argv[roundsArg + 1]) : small ? 1 : 2;
if (!Number.isInteger(COLD_ROUNDS) || COLD_ROUNDS < 1) {
  throw new Error(`--rounds takes a positive integer`);
}
const BASE_EVENTS = small ? 300 : 5_000;
const POPULAR = 'starts_at=2021-03-01T00:00:00Z&ends_at=2021-03-15T00:00:00Z';

/** `BENCH_API_ENV`: NAME=value pairs (space-separated) the API processes get on top of the rest. */
function apiEnvOverrides(): Record<string, string> {
  const overrides: Record<string, string> = {};
  for (const pair of (process.env.BENCH_API_ENV ?? '').split(/\s+/)) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`BENCH_API_ENV takes NAME=value pairs, not ${pair}`);
    overrides[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return overrides;
}

function log(message: string): void {
  process.stderr.write(`[bench:search] ${message}\n`);
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const address = srv.address();
  await new Promise<void>((r) => srv.close(() => r()));
  return typeof address === 'object' && address ? address.port : 0;
}

function startNode(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

async function waitFor(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** A deterministic sequence of windows inside the generated feed's year. */
function windowSequence(seed: number): () => string {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const day = 86_400_000;
  const start2021 = Date.UTC(2021, 0, 1);
  return () => {
    const start = start2021 + Math.floor(next() * 360) * day + Math.floor(next() * 24) * 3_600_000;
    const end = start + (1 + Math.floor(next() * 14)) * day;
    const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
    return `starts_at=${iso(start)}&ends_at=${iso(end)}`;
  };
}

/**
 * CPU seconds a process has used so far, user and system (the kernel's work for it: its socket
 * reads and writes above all), from /proc (Linux); undefined elsewhere. Per answer, it is less
 * sensitive than throughput to what else runs on a shared machine.
 */
function cpuSecondsOf(pid: number | undefined): { user: number; system: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime, fields 14 and 15 of stat(5), in clock ticks (USER_HZ, 100 on Linux).
    const user = Number(fields[11]) / 100;
    const system = Number(fields[12]) / 100;
    return Number.isFinite(user) && Number.isFinite(system) ? { user, system } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * CPU milliseconds Elasticsearch's process has used so far (`_nodes/stats`), so that the cold
 * phase shows Elasticsearch's own work per answer on each side; undefined when it cannot be read.
 */
async function esCpuMillis(): Promise<number | undefined> {
  try {
    const res = await fetch(
      `${ES}/_nodes/_local/stats/process?filter_path=nodes.*.process.cpu.total_in_millis`,
    );
    const body = (await res.json()) as {
      nodes?: Record<string, { process?: { cpu?: { total_in_millis?: number } } }>;
    };
    const node = Object.values(body.nodes ?? {})[0];
    return node?.process?.cpu?.total_in_millis;
  } catch {
    return undefined;
  }
}

interface LoadResult {
  /** Answers that succeeded (2xx) per second: failures are never throughput. */
  requestsPerSecond: number;
  /** Every answer per second, failures included (for the record only). */
  answersPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  errors: number;
  non2xx: number;
  requests: number;
  /** CPU (user + system) the server process used per succeeded answer, µs (Linux only). */
  cpuMicrosPerAnswer?: number;
  /** The system (kernel) part of it, µs. */
  systemCpuMicrosPerAnswer?: number;
  /** Response bytes (headers and body) per answer, as the load generator read them. */
  bytesPerAnswer: number;
  /** CPU Elasticsearch's process used per succeeded answer, µs. */
  esCpuMicrosPerAnswer?: number;
  /** What the figures above come from, so that loads can be added up (`combined`). */
  succeeded: number;
  seconds: number;
  cpuSeconds?: number;
  systemCpuSeconds?: number;
  esCpuMillis?: number;
  bytes: number;
}

type LoadOptions = Omit<autocannon.Options, 'duration' | 'connections'>;

/**
 * Measures `opts` for DURATION seconds, after WARM_UP seconds of `warmUp` (default: the same load;
 * a cold phase warms up with other windows, so the measured ones are still new to Elasticsearch).
 * `warmUp` null: no warm-up (a later round of the cold phase), only the pause after the load before.
 */
async function load(
  opts: LoadOptions,
  server?: ChildProcess,
  warmUp: LoadOptions | null = opts,
): Promise<LoadResult> {
  if (warmUp !== null && WARM_UP > 0) {
    await autocannon({ ...warmUp, duration: WARM_UP, connections: CONNECTIONS });
  }
  if (warmUp === null || WARM_UP > 0) {
    // autocannon abandons the requests in flight when it stops; the server still answers them (a
    // miss keeps its query slot or its place in the line). Let it finish them first, so they are
    // neither counted nor in the measured requests' way (the line full: fast 503s).
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  }
  const esBefore = await esCpuMillis();
  const cpuBefore = cpuSecondsOf(server?.pid);
  const result = await autocannon({ ...opts, duration: DURATION, connections: CONNECTIONS });
  const cpuAfter = cpuSecondsOf(server?.pid);
  const esAfter = await esCpuMillis();
  const perAnswer = (before: number | undefined, after: number | undefined, toMicros: number) =>
    before !== undefined && after !== undefined && result['2xx'] > 0
      ? Math.round(((after - before) * toMicros) / result['2xx'])
      : undefined;
  const total = (c: { user: number; system: number } | undefined) =>
    c === undefined ? undefined : c.user + c.system;
  const cpu = perAnswer(total(cpuBefore), total(cpuAfter), 1e6);
  const systemCpu = perAnswer(cpuBefore?.system, cpuAfter?.system, 1e6);
  const esCpu = perAnswer(esBefore, esAfter, 1e3);
  return {
    ...(cpu !== undefined ? { cpuMicrosPerAnswer: cpu } : {}),
    ...(systemCpu !== undefined ? { systemCpuMicrosPerAnswer: systemCpu } : {}),
    ...(esCpu !== undefined ? { esCpuMicrosPerAnswer: esCpu } : {}),
    succeeded: result['2xx'],
    seconds: result.duration,
    bytes: result.throughput.total,
    bytesPerAnswer:
      result.requests.total > 0 ? Math.round(result.throughput.total / result.requests.total) : 0,
    ...(cpuBefore !== undefined && cpuAfter !== undefined
      ? {
          cpuSeconds: (total(cpuAfter) as number) - (total(cpuBefore) as number),
          systemCpuSeconds: cpuAfter.system - cpuBefore.system,
        }
      : {}),
    ...(esBefore !== undefined && esAfter !== undefined ? { esCpuMillis: esAfter - esBefore } : {}),
    requestsPerSecond: Math.round(result['2xx'] / result.duration),
    answersPerSecond: Math.round(result.requests.average),
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    requests: result.requests.total,
  };
}

/**
 * Several loads of one side as one: succeeded answers over their added durations, CPU over their
 * added answers, failures added; each latency percentile is the worst of the loads'.
 */
function combined(loads: LoadResult[]): LoadResult {
  const sum = (f: (l: LoadResult) => number | undefined) =>
    loads.every((l) => f(l) !== undefined)
      ? loads.reduce((a, l) => a + (f(l) as number), 0)
      : undefined;
  const succeeded = sum((l) => l.succeeded) as number;
  const seconds = sum((l) => l.seconds) as number;
  const cpuSeconds = sum((l) => l.cpuSeconds);
  const systemCpuSeconds = sum((l) => l.systemCpuSeconds);
  const requests = sum((l) => l.requests) as number;
  const bytes = sum((l) => l.bytes) as number;
  const esCpuMillis = sum((l) => l.esCpuMillis);
  const worst = (k: keyof LoadResult['latencyMs']) => Math.max(...loads.map((l) => l.latencyMs[k]));
  return {
    ...(cpuSeconds !== undefined && succeeded > 0
      ? { cpuMicrosPerAnswer: Math.round((cpuSeconds * 1e6) / succeeded), cpuSeconds }
      : {}),
    ...(systemCpuSeconds !== undefined && succeeded > 0
      ? {
          systemCpuMicrosPerAnswer: Math.round((systemCpuSeconds * 1e6) / succeeded),
          systemCpuSeconds,
        }
      : {}),
    ...(esCpuMillis !== undefined && succeeded > 0
      ? { esCpuMicrosPerAnswer: Math.round((esCpuMillis * 1e3) / succeeded), esCpuMillis }
      : {}),
    requestsPerSecond: Math.round(succeeded / seconds),
    answersPerSecond: Math.round((sum((l) => l.answersPerSecond * l.seconds) as number) / seconds),
    latencyMs: { p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), max: worst('max') },
    errors: sum((l) => l.errors) as number,
    non2xx: sum((l) => l.non2xx) as number,
    requests,
    succeeded,
    seconds,
    bytes,
    bytesPerAnswer: requests > 0 ? Math.round(bytes / requests) : 0,
  };
}

/**
 * The ratio of succeeded answers per second. A run with failures (non-2xx, errors, timeouts) on
 * either side cannot report a ratio above its target: it is capped there and marked failed.
 */
function ratioOf(
  api: LoadResult,
  baseline: LoadResult,
  target: number,
): { ratio: number; failures: number; met: boolean } {
  const failures = api.errors + api.non2xx + baseline.errors + baseline.non2xx;
  const measured = +(api.requestsPerSecond / baseline.requestsPerSecond).toFixed(3);
  const ratio = failures > 0 ? Math.min(measured, target) : measured;
  return { ratio, failures, met: failures === 0 && ratio >= target };
}

/** Accepts OTLP exports and discards them, so tracing costs what it costs in production. */
async function otlpSink(): Promise<{ server: Server; url: string; spans: () => number }> {
  let exports = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      exports += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}`, spans: () => exports };
}

async function main(): Promise<void> {
  const summary: Record<string, unknown> = {
    small,
    durationSeconds: DURATION,
    connections: CONNECTIONS,
    ...(process.env.BENCH_API_ENV ? { apiEnv: process.env.BENCH_API_ENV } : {}),
  };
  const store = { ELASTICSEARCH_URL: ES, ES_INDEX_PREFIX: PREFIX };
  const children: ChildProcess[] = [];
  const sim = await createProviderSim({
    mode: 'generated',
    samplesDir: join(ROOT, 'test/fixtures'),
    baseEvents: BASE_EVENTS,
    zonesPerEvent: 10,
    seed: 1,
    delayMs: 0,
  });
  const simPort = await sim.listen(0);
  const sink = await otlpSink();
  try {
    log(`ingesting a generated feed of ${BASE_EVENTS} base events into ${PREFIX}-*`);
    // The indices come from the bootstrap, as in a deployment (the ingester only checks them).
    const boot = startNode(['dist/main/bootstrap.js'], { ...store, OTEL_SDK_DISABLED: 'true' });
    const bootCode = await new Promise((r) => boot.once('exit', r));
    if (bootCode !== 0) throw new Error(`bootstrap exited ${String(bootCode)}`);
    const ingest = startNode(['dist/main/ingest.js'], {
      ...store,
      PROVIDER_URL: `http://127.0.0.1:${simPort}/feed`,
      OTEL_SDK_DISABLED: 'true',
    });
    const code = await new Promise((r) => ingest.once('exit', r));
    if (code !== 0) throw new Error(`ingest exited ${String(code)}`);

    // The API as production runs it (the Helm chart's defaults): OpenTelemetry through the loader
    // hook sampling one request in ten and exporting over OTLP (to a sink here), JSON logs at info
    // with the access log of failed and slow requests, metrics on.
    const production = {
      ...store,
      LOG_LEVEL: 'info',
      ACCESS_LOG: 'errors',
      OTEL_SDK_DISABLED: 'false',
      OTEL_SERVICE_NAME: 'event-search-api',
      OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      // The chart's ratio; BENCH_SAMPLE_RATIO=0 measures what tracing costs with nothing sampled.
      OTEL_TRACES_SAMPLER_ARG: process.env.BENCH_SAMPLE_RATIO ?? '0.1',
      // As the chart's API: its only outgoing calls are Elasticsearch's, traced by the client.
      OTEL_NODE_DISABLED_INSTRUMENTATIONS:
        process.env.OTEL_NODE_DISABLED_INSTRUMENTATIONS ?? 'http,undici',
      RATE_LIMIT_ENABLED: 'false',
      ...apiEnvOverrides(),
    };
    const apiArgs = ['--import', './dist/observability/register.js', 'dist/main/api.js'];

    if (runHot) {
      // 1. Hot search.
      const apiPort = await freePort();
      const api = startNode(apiArgs, { ...production, PORT: String(apiPort) });
      children.push(api);
      await waitFor(`http://127.0.0.1:${apiPort}/readyz`);
      const warm = await fetch(`http://127.0.0.1:${apiPort}/search?${POPULAR}`);
      const body = Buffer.from(await warm.arrayBuffer());
      const events = (JSON.parse(body.toString()) as { data: { events: unknown[] } }).data.events
        .length;
      const bodyFile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'body.json');
      writeFileSync(bodyFile, body);
      const barePort = await freePort();
      const bare = startNode(['dist/bench/bench/bare-koa.js', String(barePort), bodyFile], {});
      children.push(bare);
      await waitFor(`http://127.0.0.1:${barePort}/`);

      log(`hot: ${events} events, ${body.length} bytes per answer; bare Koa baseline first`);
      const hotBare = await load({ url: `http://127.0.0.1:${barePort}/search?${POPULAR}` }, bare);
      const hotApi = await load({ url: `http://127.0.0.1:${apiPort}/search?${POPULAR}` }, api);
      await stopChild(api);
      // The same API without tracing: how much of the gap OpenTelemetry's instrumentation is.
      const untracedPort = await freePort();
      const untraced = startNode(['dist/main/api.js'], {
        ...production,
        OTEL_SDK_DISABLED: 'true',
        PORT: String(untracedPort),
      });
      children.push(untraced);
      await waitFor(`http://127.0.0.1:${untracedPort}/readyz`);
      await fetch(`http://127.0.0.1:${untracedPort}/search?${POPULAR}`);
      const hotUntraced = await load(
        { url: `http://127.0.0.1:${untracedPort}/search?${POPULAR}` },
        untraced,
      );
      await stopChild(untraced);
      summary.hot = {
        eventsPerAnswer: events,
        bytesPerAnswer: body.length,
        baseline: hotBare,
        api: hotApi,
        ...ratioOf(hotApi, hotBare, 0.8),
        apiWithoutTracing: hotUntraced,
        ratioWithoutTracing: ratioOf(hotUntraced, hotBare, 0.8).ratio,
        target: 0.8,
      };
      await stopChild(bare);
    }

    if (runCold) {
      // 2. Cold search: cache off, a different window on every request, same sequence for both.
      const coldPort = await freePort();
      const cold = startNode(apiArgs, {
        ...production,
        PORT: String(coldPort),
        CACHE_MAX_ENTRIES: '0',
      });
      children.push(cold);
      await waitFor(`http://127.0.0.1:${coldPort}/readyz`);
      const alias = indexNames(PREFIX).eventsAlias;

      log('cold: direct Elasticsearch baseline first');
      // The same request the API's reader sends first (src/api/search/event-reader.ts), one new
      // window per request from the sequence of `seed`.
      const direct = (seed: number): LoadOptions => {
        const windows = windowSequence(seed);
        return {
          url: ES,
          requests: [
            {
              method: 'POST',
              path: `/${alias}/_search?filter_path=hits.hits._source.summary_json,hits.hits._source.summary&allow_partial_search_results=false`,
              headers: { 'content-type': 'application/json' },
              setupRequest: (req) => {
                const query = Object.fromEntries(new URLSearchParams(windows()));
                const window = parseSearchWindow(query);
                return {
                  ...req,
                  body: JSON.stringify({
                    query: windowQuery(window),
                    sort: SORT,
                    size: 1000,
                    _source: ['summary_json', 'summary'],
                    track_total_hits: false,
                  }),
                };
              },
            },
          ],
        };
      };
      const viaApi = (seed: number): LoadOptions => {
        const windows = windowSequence(seed);
        return {
          url: `http://127.0.0.1:${coldPort}`,
          requests: [
            { method: 'GET', setupRequest: (req) => ({ ...req, path: `/search?${windows()}` }) },
          ],
        };
      };
      // Measured: COLD_ROUNDS rounds, direct then API in the first, API then direct in the second,
      // and so on (ABBA: a drift of the machine that is steady over the rounds weighs on both
      // sides alike); round r measures the windows of seed 7 + 10r on both sides. Warm-ups (first
      // round only): other windows (seeds 11 and 13).
      const rounds: { baseline: LoadResult; api: LoadResult }[] = [];
      for (let r = 0; r < COLD_ROUNDS; r++) {
        const seed = 7 + 10 * r;
        const measureDirect = () => load(direct(seed), undefined, r === 0 ? direct(11) : null);
        const measureApi = () => load(viaApi(seed), cold, r === 0 ? viaApi(13) : null);
        if (r % 2 === 0) {
          const baseline = await measureDirect();
          rounds.push({ baseline, api: await measureApi() });
        } else {
          const api = await measureApi();
          rounds.push({ baseline: await measureDirect(), api });
        }
      }
      const coldEs = combined(rounds.map((r) => r.baseline));
      const coldApi = combined(rounds.map((r) => r.api));
      // How the API's searches went to Elasticsearch (the whole run, warm-ups included).
      const metrics = await (await fetch(`http://127.0.0.1:${coldPort}/metrics`)).text();
      const counted = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? 0);
      const requests = {
        misses: counted(/^event_search_search_cache_lookups_total\{result="miss"\} (\d+)/m),
        search: counted(
          /^event_search_es_request_duration_seconds_count\{operation="search"\} (\d+)/m,
        ),
        msearch: counted(
          /^event_search_es_request_duration_seconds_count\{operation="msearch"\} (\d+)/m,
        ),
      };
      summary.cold = {
        baseline: coldEs,
        api: coldApi,
        elasticsearchRequests: requests,
        ...ratioOf(coldApi, coldEs, 0.8),
        target: 0.8,
        rounds: rounds.map((r) => ({ ...r, ratio: ratioOf(r.api, r.baseline, 0.8).ratio })),
      };
      await stopChild(cold);
    }
    summary.otlpExports = sink.spans();
  } finally {
    await Promise.all(children.map(stopChild));
    await sim.close();
    sink.server.close();
    await fetch(`${ES}/${PREFIX}-*`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${ES}/_index_template/${PREFIX}-*`, { method: 'DELETE' }).catch(() => undefined);
  }

  type Ratio = { ratio: number; failures: number; met: boolean };
  const verdict = (r: Ratio) =>
    r.failures > 0
      ? `NOT MET: ${r.failures} failed answers (the ratio counts only successes and is capped at the target)`
      : r.met
        ? 'met'
        : 'not met';
  const hot = summary.hot as Ratio & {
    ratioWithoutTracing: number;
    baseline: LoadResult;
    api: LoadResult;
    apiWithoutTracing: LoadResult;
  };
  const cold = summary.cold as Ratio & {
    baseline: LoadResult;
    api: LoadResult;
    elasticsearchRequests: { misses: number; search: number; msearch: number };
    rounds: { baseline: LoadResult; api: LoadResult; ratio: number }[];
  };
  const row = (name: string, r: LoadResult) =>
    `  ${name.padEnd(26)} ${String(r.requestsPerSecond).padStart(7)} succeeded/s   p50 ${r.latencyMs.p50} ms  p90 ${r.latencyMs.p90} ms  p99 ${r.latencyMs.p99} ms  errors ${r.errors} non-2xx ${r.non2xx}` +
    `  ${r.bytesPerAnswer} B/answer` +
    (r.cpuMicrosPerAnswer !== undefined
      ? `  cpu ${r.cpuMicrosPerAnswer} us/answer` +
        (r.systemCpuMicrosPerAnswer !== undefined
          ? ` (${r.systemCpuMicrosPerAnswer} of it system)`
          : '')
      : '');
  const esRow = (r: LoadResult) =>
    r.esCpuMicrosPerAnswer !== undefined
      ? `, Elasticsearch cpu ${r.esCpuMicrosPerAnswer} us/answer`
      : '';
  if (runHot) {
    console.log('\nHot search (cached window)');
    console.log(row('bare Koa, same bytes', hot.baseline));
    console.log(row('event-search API', hot.api));
    console.log(`  ratio ${hot.ratio}x (target >= 0.8x): ${verdict(hot)}`);
    console.log(row('API, tracing off', hot.apiWithoutTracing));
    console.log(`  ratio without tracing ${hot.ratioWithoutTracing}x`);
  }
  if (runCold) {
    console.log('\nCold search (cache off, a new window per request)');
    if (cold.rounds.length > 1) {
      cold.rounds.forEach((r, i) => {
        console.log(row(`round ${i + 1}: direct`, r.baseline) + esRow(r.baseline));
        console.log(row(`round ${i + 1}: API`, r.api) + esRow(r.api) + `   ratio ${r.ratio}x`);
      });
      console.log(`  all ${cold.rounds.length} rounds (each percentile the worst round's):`);
    }
    console.log(row('Elasticsearch direct', cold.baseline) + esRow(cold.baseline));
    console.log(row('event-search API', cold.api) + esRow(cold.api));
    console.log(`  ratio ${cold.ratio}x (target >= 0.8x): ${verdict(cold)}`);
    const { misses, search, msearch } = cold.elasticsearchRequests;
    console.log(
      `  the API's misses (warm-ups included): ${misses}, sent as ${search} _search and ${msearch} _msearch requests`,
    );
  }
  console.log(`\n${JSON.stringify({ bench: 'search', ...summary })}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
