/**
 * Ingest benchmark: the real ingest entry point (`node dist/main/ingest.js`, a child process)
 * taking a generated feed end to end into Elasticsearch, against the raw streaming parse of the same
 * bytes (saxes alone, `bench/parse.ts --phase raw`) as the baseline, in the same run.
 *
 *  1. 10,000 base events x 100 zones (about 90 MB) served from a file over HTTP: time ratio to the
 *     raw parse, events/s, the ingester's peak RSS.
 *     The same feed again into the same indices (nothing changed: ADR 0013) against the raw parse:
 *     byte for byte (the run skips the parse, ADR 0016), and the same content in other bytes (a
 *     comment appended: parsed in full, every item skipped by its hash);
 *     the first run against the raw parse plus a bare `_bulk` of the same documents sent straight
 *     to Elasticsearch (the floor of a validate-then-write run).
 *  2. A feed ten times larger streamed by the provider simulator (generated on the fly): peak RSS,
 *     to show memory stays flat whatever the feed size.
 *
 * Before any of it, not counted: bare `_bulk` passes until Elasticsearch indexes at a steady pace
 * (`warmUpElasticsearch`), so that a node started just before the bench does not charge its JIT's
 * warm-up to the first run, the bench's first writes.
 *
 * Needs Elasticsearch (ELASTICSEARCH_URL) and a build. `--small` runs both at a tiny size. The
 * ingester runs with the chart's V8 flags; `BENCH_NODE_FLAGS=''` runs it with V8's defaults.
 *
 *   npm run bench:ingest [-- --small]
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { normaliseEvent } from '../src/domain/event.js';
import { FeedParser } from '../src/ingest/parser.js';
import { parseEnv, storeEnv } from '../src/config.js';
import { createEsClient } from '../src/store/client.js';
import { acceptedEventUpdate } from '../src/store/event-document.js';
import { bootstrapIndices } from '../src/store/indices.js';
import { generateFeed } from '../src/sim/feed.js';
import { createProviderSim } from '../src/sim/server.js';

const small = process.argv.includes('--small');
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const ES = process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200';
const BASE_EVENTS = small ? 500 : 10_000;
const ZONES = small ? 20 : 100;
const LARGE_FACTOR = 10;

interface IngestFigures {
  seconds: number;
  eventsUpserted: number;
  itemsChanged: number;
  eventsPerSecond: number;
  peakRssMb: number;
  bytes: number;
  /** The run skipped the parse: the bytes equalled the previous run's (ADR 0016). */
  feedUnchanged: boolean;
  /**
   * Milliseconds from the `config` log line to `feed_fetched`: the start's round trips to
   * Elasticsearch and the feed's request (ADR 0016, fourth pass).
   */
  startMs: number;
  /**
   * Milliseconds between the run's log lines: from the spawn to `config` (the process and its
   * modules), `feed_fetched` to `feed_read` (phase 1: download, parse, validation, spool) and
   * `feed_read` to `events_written` (phase 2: the writes); NaN where a line is missing (a run
   * that skipped the parse has no `feed_read`).
   */
  phasesMs: { boot: number; parse: number; write: number };
  /**
   * The run's garbage collections, when `BENCH_NODE_FLAGS` holds `--trace-gc` (V8 prints one line
   * per collection on the process's stdout): how many, and their pauses of the main thread.
   */
  gc?: GcPauses;
}

interface GcPauses {
  scavenges: number;
  scavengeMs: number;
  markCompacts: number;
  markCompactMs: number;
}

/**
 * `--trace-gc` lines: `... ms: Scavenge 31.1 (37.4) -> 27.3 (37.4) MB, pooled: 0.0 MB, 1.16 / 0.00
 * ms ...`, and `Mark-Compact` or `Incremental Mark-Compact` alike (the pause is the first figure
 * before `ms`; an incremental one's steps before it are not counted).
 */
const TRACE_GC = /ms: (Scavenge|(?:Incremental )?Mark-Compact)\b.*?MB, ([\d.]+) \/ [\d.]+ ms/;

/** The collections `--trace-gc` printed in `out`, or undefined when it printed none. */
function gcPausesOf(out: string): GcPauses | undefined {
  const gc: GcPauses = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0 };
  for (const line of out.split('\n')) {
    const m = TRACE_GC.exec(line);
    if (!m) continue;
    if (m[1] === 'Scavenge') {
      gc.scavenges++;
      gc.scavengeMs += Number(m[2]);
    } else {
      gc.markCompacts++;
      gc.markCompactMs += Number(m[2]);
    }
  }
  if (gc.scavenges + gc.markCompacts === 0) return undefined;
  gc.scavengeMs = Math.round(gc.scavengeMs);
  gc.markCompactMs = Math.round(gc.markCompactMs);
  return gc;
}

function log(message: string): void {
  process.stderr.write(`[bench:ingest] ${message}\n`);
}

function rawParse(file: string): { seconds: number; peakRssMb: number } {
  const out = spawnSync(
    process.execPath,
    [join(ROOT, 'dist/bench/bench/parse.js'), '--phase', 'raw', file],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (out.status !== 0) throw new Error(`raw parse exited ${String(out.status)}`);
  const result = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '{}') as {
    seconds: number;
    peakRssMb: number;
  };
  return result;
}

/**
 * The V8 flags the chart's CronJob runs the ingester with (`ingester.heap` of
 * charts/event-search/values.yaml), so the bench measures what a deployment runs.
 */
function cronJobNodeFlags(): string[] {
  const values = parseYaml(readFileSync(join(ROOT, 'charts/event-search/values.yaml'), 'utf8')) as {
    ingester?: { heap?: { semiSpaceMB?: number; oldSpaceMB?: number } };
  };
  const heap = values.ingester?.heap;
  if (!heap?.semiSpaceMB || !heap.oldSpaceMB)
    throw new Error('no ingester.heap in the chart values');
  return [`--max-semi-space-size=${heap.semiSpaceMB}`, `--max-old-space-size=${heap.oldSpaceMB}`];
}

/**
 * BENCH_NODE_FLAGS (space-separated, empty for V8's defaults) overrides them to compare;
 * `-- --trace-gc` adds V8's `--trace-gc`, and the first run's collections are then printed.
 */
const NODE_FLAGS = [
  ...(process.env.BENCH_NODE_FLAGS === undefined
    ? cronJobNodeFlags()
    : process.env.BENCH_NODE_FLAGS.split(' ').filter(Boolean)),
  ...(process.argv.includes('--trace-gc') ? ['--trace-gc'] : []),
];

/** Runs the ingest entry point once and reads its summary line. */
async function ingest(providerUrl: string, prefix: string): Promise<IngestFigures> {
  // The indices come from the bootstrap, as in a deployment (the ingester only checks them).
  const boot = spawnSync(process.execPath, ['dist/main/bootstrap.js'], {
    cwd: ROOT,
    env: { ...process.env, ELASTICSEARCH_URL: ES, ES_INDEX_PREFIX: prefix },
    encoding: 'utf8',
  });
  if (boot.status !== 0) throw new Error(`bootstrap exited ${String(boot.status)}: ${boot.stdout}`);
  const started = process.hrtime.bigint();
  const spawnedAt = Date.now();
  const child = spawn(process.execPath, [...NODE_FLAGS, 'dist/main/ingest.js'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ELASTICSEARCH_URL: ES,
      ES_INDEX_PREFIX: prefix,
      PROVIDER_URL: providerUrl,
      PROVIDER_MAX_FEED_BYTES: String(20 * 1024 ** 3),
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map(
      (l) =>
        JSON.parse(l) as {
          phase?: string;
          time?: string;
          counts?: { events_upserted: number; items_changed?: number };
          peak_rss_bytes?: number;
          bytes?: number;
          feed?: { unchanged?: boolean };
          error?: string;
        },
    );
  const summary = lines.find((l) => l.phase === 'summary');
  const gc = gcPausesOf(out);
  const timeOf = (phase: string) => Date.parse(lines.find((l) => l.phase === phase)?.time ?? '');
  if (code !== 0 || !summary?.counts) {
    throw new Error(`ingest exited ${String(code)}: ${summary?.error ?? out.slice(-2000)}`);
  }
  return {
    seconds,
    eventsUpserted: summary.counts.events_upserted,
    itemsChanged: summary.counts.items_changed ?? NaN,
    eventsPerSecond: Math.round(summary.counts.events_upserted / seconds),
    peakRssMb: Math.round((summary.peak_rss_bytes ?? 0) / 1024 / 1024),
    bytes: summary.bytes ?? 0,
    feedUnchanged: summary.feed?.unchanged ?? false,
    startMs: timeOf('feed_fetched') - timeOf('config'),
    phasesMs: {
      boot: timeOf('config') - spawnedAt,
      parse: timeOf('feed_read') - timeOf('feed_fetched'),
      write: timeOf('events_written') - timeOf('feed_read'),
    },
    ...(gc && { gc }),
  };
}

/**
 * The bodies of the floor of writing: the documents the ingester would store for `file`, as
 * `_bulk` bodies of about 2 MB (the writer's default flush size), built once and not timed. The
 * action lines name no index (the request's path does), so the same bodies serve every prefix.
 */
async function bareBulkBodies(file: string): Promise<string[]> {
  const seen = { runId: 'bare', seenAt: new Date().toISOString(), timeZone: 'UTC' };
  const bodies: string[] = [];
  let chunk = '';
  for await (const base of new FeedParser().parse(createReadStream(file))) {
    for (const raw of base.events) {
      const result = normaliseEvent('primary', raw);
      if (!result.ok) continue;
      const doc = acceptedEventUpdate(result.event, seen).upsert;
      chunk += `${JSON.stringify({ index: { _id: doc.id } })}\n${JSON.stringify(doc)}\n`;
      if (chunk.length >= 2_000_000) {
        bodies.push(chunk);
        chunk = '';
      }
    }
  }
  if (chunk) bodies.push(chunk);
  return bodies;
}

/**
 * The floor of writing: `bodies` sent straight to Elasticsearch with `_bulk` (two in flight, as
 * the writer's default) into freshly bootstrapped indices of `prefix`, then a refresh. Returns
 * the seconds from the first request to the refresh's answer.
 */
async function bareBulk(bodies: string[], prefix: string): Promise<number> {
  const client = createEsClient(
    parseEnv(storeEnv, { ELASTICSEARCH_URL: ES, ES_INDEX_PREFIX: prefix }),
  );
  try {
    const names = await bootstrapIndices(client, prefix);
    const started = process.hrtime.bigint();
    let next = 0;
    async function worker(): Promise<void> {
      while (next < bodies.length) {
        const body = bodies[next++] as string;
        const res = await fetch(`${ES}/${names.eventsAlias}/_bulk?filter_path=errors`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body,
        });
        const answer = (await res.json()) as { errors?: boolean };
        if (!res.ok || answer.errors) throw new Error(`bare _bulk failed: ${res.status}`);
      }
    }
    await Promise.all([worker(), worker()]);
    await fetch(`${ES}/${names.eventsAlias}/_refresh`, { method: 'POST' });
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    await client.close();
  }
}

/** Warm-up passes at most, and how close two passes in a row must be to stop earlier. */
const WARM_UP_PASSES = 6;
const WARM_UP_SPREAD = 0.15;

/**
 * Elasticsearch's JVM indexes several times slower until its JIT has compiled the indexing path: a
 * node started just before the bench took 2.9-3.2 s to write the first run's documents that a
 * warm one writes in 0.5-0.7 s (docs/performance.md). Measured cold, the first run (the bench's
 * first writes) would pay that warm-up and the bare `_bulk`, timed after three ingest runs, less of
 * it. So, not counted: bare `_bulk` passes of the same documents, each into scratch indices
 * dropped after it, until two in a row are within WARM_UP_SPREAD of each other (a warm node: two
 * or three passes), at most WARM_UP_PASSES. Returns each pass's seconds.
 */
async function warmUpElasticsearch(bodies: string[], prefix: string): Promise<number[]> {
  const passes: number[] = [];
  for (let i = 0; i < WARM_UP_PASSES; i++) {
    const scratch = `${prefix}-${i}`;
    try {
      passes.push(await bareBulk(bodies, scratch));
    } finally {
      await dropPrefix(scratch);
    }
    const [before, last] = passes.slice(-2) as [number, number];
    if (passes.length >= 2 && Math.abs(last - before) <= WARM_UP_SPREAD * Math.min(last, before)) {
      break;
    }
  }
  return passes;
}

async function dropPrefix(prefix: string): Promise<void> {
  await fetch(`${ES}/${prefix}-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${ES}/_index_template/${prefix}-*`, { method: 'DELETE' }).catch(() => undefined);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'event-search-bench-ingest-'));
  const file = join(dir, 'feed.xml');
  const prefixes: string[] = [];
  try {
    log(`generating ${BASE_EVENTS} base events x ${ZONES} zones`);
    await pipeline(
      generateFeed({ baseEvents: BASE_EVENTS, zonesPerEvent: ZONES, seed: 42 }),
      createWriteStream(file),
    );
    const mb = statSync(file).size / 1024 / 1024;

    log('warm-up: bare _bulk passes until Elasticsearch indexes at a steady pace (not counted)');
    const bodies = await bareBulkBodies(file);
    const warmUp = await warmUpElasticsearch(bodies, `bench-ingest-warm-${process.pid}`);
    log(`warm-up passes: ${warmUp.map((s) => `${s.toFixed(2)} s`).join(', ')}`);

    log('baseline: raw saxes parse of the file');
    const raw = rawParse(file);

    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      const feed = createReadStream(file);
      // The same events in other bytes: a comment after the document.
      if (req.url === '/other-bytes.xml') {
        feed.pipe(res, { end: false });
        feed.once('end', () => res.end('<!-- the same events, other bytes -->\n'));
      } else {
        feed.pipe(res);
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const filePort = typeof address === 'object' && address ? address.port : 0;
    const prefix = `bench-ingest-${process.pid}`;
    prefixes.push(prefix);
    log('end to end: ingest entry point into Elasticsearch');
    const e2e = await ingest(`http://127.0.0.1:${filePort}/feed.xml`, prefix);
    log('unchanged: the same feed again into the same indices');
    const unchanged = await ingest(`http://127.0.0.1:${filePort}/feed.xml`, prefix);
    log('same content, other bytes: parsed in full, every item skipped by its hash');
    const sameContent = await ingest(`http://127.0.0.1:${filePort}/other-bytes.xml`, prefix);
    server.close();
    const barePrefix = `bench-ingest-bare-${process.pid}`;
    prefixes.push(barePrefix);
    log('baseline: bare _bulk of the same documents');
    const bare = await bareBulk(bodies, barePrefix);

    const largeBase = BASE_EVENTS * LARGE_FACTOR;
    log(`large: ${largeBase} base events x ${ZONES} zones streamed by the simulator`);
    const sim = await createProviderSim({
      mode: 'generated',
      samplesDir: join(ROOT, 'test/fixtures'),
      baseEvents: largeBase,
      zonesPerEvent: ZONES,
      seed: 43,
      delayMs: 0,
    });
    const simPort = await sim.listen(0);
    const largePrefix = `bench-ingest-large-${process.pid}`;
    prefixes.push(largePrefix);
    const large = await ingest(`http://127.0.0.1:${simPort}/feed`, largePrefix);
    await sim.close();

    const ratio = +(e2e.seconds / raw.seconds).toFixed(2);
    const firstRatio = +(e2e.seconds / (raw.seconds + bare)).toFixed(2);
    const unchangedRatio = +(unchanged.seconds / raw.seconds).toFixed(2);
    const sameContentRatio = +(sameContent.seconds / raw.seconds).toFixed(2);
    const rssGrowth = +(large.peakRssMb / e2e.peakRssMb).toFixed(2);
    console.log(
      `\nIngest (${BASE_EVENTS} x ${ZONES}, ${mb.toFixed(1)} MB; node ${NODE_FLAGS.join(' ')})`,
    );
    console.log(
      `  raw saxes parse (baseline)   ${raw.seconds.toFixed(2)} s   peak RSS ${Math.round(raw.peakRssMb)} MB`,
    );
    console.log(
      `  ingest end to end            ${e2e.seconds.toFixed(2)} s   ${e2e.eventsPerSecond} events/s   peak RSS ${e2e.peakRssMb} MB`,
    );
    console.log(
      `  its start: config to feed_fetched log lines ${e2e.startMs} ms (index check, lease, run record, previous run, the feed's request)`,
    );
    console.log(
      `  its phases: process start to config ${e2e.phasesMs.boot} ms, parse (feed_fetched to feed_read) ${e2e.phasesMs.parse} ms = ${(e2e.phasesMs.parse / 1000 / raw.seconds).toFixed(2)}x the raw parse, write (feed_read to events_written) ${e2e.phasesMs.write} ms = ${(e2e.phasesMs.write / 1000 / bare).toFixed(2)}x the bare _bulk`,
    );
    if (e2e.gc) {
      const { scavenges, scavengeMs, markCompacts, markCompactMs } = e2e.gc;
      console.log(
        `  its garbage collections (--trace-gc): ${scavenges} scavenges, ${scavengeMs} ms; ${markCompacts} mark-compacts, ${markCompactMs} ms (main-thread pauses)`,
      );
    }
    console.log(
      `  bare _bulk of the same documents (baseline)   ${bare.toFixed(2)} s   (after ${warmUp.length} warm-up passes, not counted: ${warmUp.map((w) => w.toFixed(2)).join(', ')} s)`,
    );
    console.log(
      `  first run: ${firstRatio}x the raw parse + bare _bulk (${(raw.seconds + bare).toFixed(2)} s; target <= 1.5x); ${ratio}x the raw parse alone`,
    );
    console.log(
      `  ingest again, feed unchanged ${unchanged.seconds.toFixed(2)} s   ${unchanged.itemsChanged} items changed   peak RSS ${unchanged.peakRssMb} MB   ${unchanged.feedUnchanged ? 'not parsed (same bytes)' : 'parsed'}`,
    );
    console.log(`  unchanged run: ${unchangedRatio}x the raw parse (target <= 1.2x)`);
    console.log(
      `  same content, other bytes   ${sameContent.seconds.toFixed(2)} s   ${sameContent.itemsChanged} items changed   peak RSS ${sameContent.peakRssMb} MB`,
    );
    console.log(`  same content run: ${sameContentRatio}x the raw parse (parsed in full)`);
    console.log(
      `\nLarge feed (${largeBase} x ${ZONES}, ${(large.bytes / 1024 / 1024).toFixed(1)} MB, streamed)`,
    );
    console.log(
      `  ingest end to end            ${large.seconds.toFixed(2)} s   ${large.eventsPerSecond} events/s   peak RSS ${large.peakRssMb} MB`,
    );
    console.log(
      `  peak RSS ${rssGrowth}x the ${LARGE_FACTOR}x smaller feed's (flat memory: about 1x); target < 200 MB`,
    );
    console.log(
      `\n${JSON.stringify({
        bench: 'ingest',
        small,
        feed: { baseEvents: BASE_EVENTS, zones: ZONES, mb: +mb.toFixed(1) },
        raw,
        ingest: e2e,
        ratio,
        bareBulkSeconds: bare,
        warmUpSeconds: warmUp,
        firstRatio,
        unchanged,
        unchangedRatio,
        sameContent,
        sameContentRatio,
        large: { baseEvents: largeBase, ...large },
        rssGrowth,
        nodeFlags: NODE_FLAGS,
        targets: { firstRatio: 1.5, unchangedRatio: 1.2, peakRssMb: 200 },
      })}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const p of prefixes) await dropPrefix(p);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
