/**
 * Ingest faults over real processes: the provider simulator and the built ingest entry point.
 *
 * - Every way the provider can fail (down, hanging, 5xx, truncated, garbage, HTML, empty, dropped
 *   connection): the run exits non-zero with a precise message, is recorded as failed, and every
 *   stored document is byte-for-byte what it was (same `_source`, same `_seq_no`); the next good
 *   run completes.
 * - Elasticsearch stopped in the middle of a run's writes (a node of this test's own, on its own
 *   port): the run exits non-zero; once Elasticsearch is back nothing stored before is lost and the
 *   next run completes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createEsClient, type Client } from '../../src/store/client.js';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import {
  ROOT,
  eventually,
  freePort,
  node,
  portOpen,
  runToEnd,
  stop,
  type Proc,
} from '../support/processes.js';

const run = promisify(execFile);
const store = testStoreEnv('e2e-chaos-ingest');
const client = testClient(store);
let sim: Proc;
let simPort: number;

interface Summary {
  phase: string;
  outcome: string;
  error: string | null;
  counts?: { events_upserted: number };
}

function summaryOf(output: string): Summary | undefined {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Summary)
    .find((l) => l.phase === 'summary');
}

/** Every stored event: id, sequence number and source, in id order. */
async function snapshot(es: Client, prefix: string) {
  await es.indices.refresh({ index: `${prefix}-events` });
  const res = await es.search({
    index: `${prefix}-events`,
    size: 10_000,
    seq_no_primary_term: true,
    sort: [{ id: 'asc' }],
  });
  return res.hits.hits.map((h) => ({ id: h._id, seq: h._seq_no, source: h._source }));
}

function ingestEnv(providerUrl: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
    PROVIDER_URL: providerUrl,
    PROVIDER_RETRIES: '1',
    PROVIDER_RETRY_MIN_DELAY_MS: '50',
    PROVIDER_RETRY_MAX_DELAY_MS: '100',
    ...extra,
  };
}

beforeAll(async () => {
  simPort = await freePort();
  sim = node('provider-sim', { PORT: String(simPort), SIM_DELAY_MS: '3000' });
  await eventually(
    async () => ((await fetch(`http://127.0.0.1:${simPort}/healthz`)).ok ? true : undefined),
    15_000,
    'the simulator',
  );
  // The indices come from the bootstrap, as in a deployment (the ingester only checks them).
  const boot = await runToEnd('bootstrap', ingestEnv(`http://127.0.0.1:${simPort}/feed`));
  if (boot.code !== 0) throw new Error(`bootstrap failed:\n${boot.output}`);
  for (let i = 0; i < 3; i++) {
    const good = await runToEnd('ingest', ingestEnv(`http://127.0.0.1:${simPort}/feed`));
    if (good.code !== 0) throw new Error(`sample ingest ${i + 1} failed:\n${good.output}`);
  }
}, 90_000);

afterAll(async () => {
  if (sim) await stop(sim);
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

describe('provider faults during ingest', () => {
  const faults: [string, string, NodeJS.ProcessEnv, RegExp][] = [
    ['500', '?mode=error', {}, /answered 500/],
    ['503 with Retry-After', '?mode=unavailable', {}, /answered 503 Service Unavailable/],
    ['truncated body', '?mode=truncated', {}, /truncated|ended before/i],
    ['malformed XML', '?mode=malformed', {}, /malformed XML/i],
    ['HTML page', '?mode=html', {}, /HTML/],
    ['empty body', '?mode=empty', {}, /empty/i],
    ['connection dropped mid-body', '?mode=drop', {}, /network|terminated|closed|reset|socket/i],
    [
      'hanging provider',
      '?mode=slow',
      { PROVIDER_TIMEOUT_MS: '300' },
      /no response from .* within 300 ms/,
    ],
  ];

  it.each(faults)(
    '%s: fails non-zero with a precise message, changes nothing, is recorded',
    async (_name, query, extra, message) => {
      const before = await snapshot(client, store.ES_INDEX_PREFIX);
      expect(before.length).toBeGreaterThanOrEqual(4);

      const result = await runToEnd(
        'ingest',
        ingestEnv(`http://127.0.0.1:${simPort}/feed${query}`, extra),
      );
      expect(result.code).toBe(1);
      const summary = summaryOf(result.output);
      expect(summary?.outcome).toBe('failed');
      expect(summary?.error).toMatch(message);

      expect(await snapshot(client, store.ES_INDEX_PREFIX)).toEqual(before);
      const runs = await client.search<{ outcome: string; error: string }>({
        index: `${store.ES_INDEX_PREFIX}-runs`,
        size: 1,
        sort: [{ started_at: 'desc' }],
      });
      expect(runs.hits.hits[0]?._source).toMatchObject({
        outcome: 'failed',
        error: summary?.error,
      });
    },
    30_000,
  );

  it('SIGTERM during a run: cancelled, recorded as failed, exit 1, nothing changed', async () => {
    const before = await snapshot(client, store.ES_INDEX_PREFIX);
    const ingest = node('ingest', ingestEnv(`http://127.0.0.1:${simPort}/feed?mode=slow`));
    await eventually(
      async () => (ingest.output().includes('"phase":"run_started"') ? true : undefined),
      15_000,
      'the run to start',
    );
    ingest.child.kill('SIGTERM');
    const exit = await ingest.exited;
    expect(exit.code).toBe(1);
    expect(summaryOf(ingest.output())).toMatchObject({ outcome: 'failed' });
    expect(summaryOf(ingest.output())?.error).toMatch(/cancel/i);
    expect(await snapshot(client, store.ES_INDEX_PREFIX)).toEqual(before);
  }, 30_000);

  it('provider down (connection refused): fails, changes nothing; the next good run completes', async () => {
    const before = await snapshot(client, store.ES_INDEX_PREFIX);
    const deadPort = await freePort();
    const down = await runToEnd('ingest', ingestEnv(`http://127.0.0.1:${deadPort}/feed`));
    expect(down.code).toBe(1);
    expect(summaryOf(down.output)?.error).toMatch(/ECONNREFUSED/);
    expect(await snapshot(client, store.ES_INDEX_PREFIX)).toEqual(before);

    const good = await runToEnd('ingest', ingestEnv(`http://127.0.0.1:${simPort}/feed`));
    expect(good.code).toBe(0);
    expect(summaryOf(good.output)).toMatchObject({ outcome: 'succeeded' });
    const after = await snapshot(client, store.ES_INDEX_PREFIX);
    // Same feed again: same events with the same values (only the bookkeeping moved on).
    const strip = (docs: typeof before) =>
      docs.map((d) => {
        const {
          last_seen_at: _l,
          last_run_id: _r,
          last_rejection,
          ...rest
        } = d.source as {
          last_rejection?: { at?: string; run_id?: string } | null;
        } & Record<string, unknown>;
        const { at: _a, run_id: _i, ...rejection } = last_rejection ?? {};
        return { id: d.id, rest, rejection };
      });
    expect(strip(after)).toEqual(strip(before));
  }, 30_000);
});

describe('Elasticsearch stopped in the middle of an ingest run', () => {
  // A node of this test's own (the shared one must keep running for the other tests).
  const ES_PORT = Number(process.env.CHAOS_INGEST_ES_PORT ?? 9281);
  const esUrl = `http://127.0.0.1:${ES_PORT}`;
  const es = createEsClient({ ...store, ELASTICSEARCH_URL: esUrl, ES_REQUEST_TIMEOUT_MS: 5_000 });
  const prefix = store.ES_INDEX_PREFIX;
  const esScript = (command: string) =>
    run('bash', ['scripts/es.sh', command], {
      cwd: ROOT,
      env: { ...process.env, ES_PORT: String(ES_PORT) },
    });

  beforeAll(async () => {
    for (const port of [ES_PORT, ES_PORT + 100]) {
      if (await portOpen(port)) throw new Error(`port ${port} is taken: set CHAOS_INGEST_ES_PORT`);
    }
    await esScript('start');
  }, 180_000);

  afterAll(async () => {
    await es.close();
    await esScript('stop').catch(() => undefined);
    rmSync(join(ROOT, '.cache', 'elasticsearch', `node-${ES_PORT}`), {
      recursive: true,
      force: true,
    });
  }, 60_000);

  it('fails the run non-zero, loses nothing stored before, and the next run completes', async () => {
    const env = (providerUrl: string): NodeJS.ProcessEnv => ({
      ...ingestEnv(providerUrl),
      ELASTICSEARCH_URL: esUrl,
      ES_REQUEST_TIMEOUT_MS: '2000',
      // Small bulk requests: the run is still writing when Elasticsearch goes away.
      INGEST_BULK_FLUSH_BYTES: '200000',
      INGEST_BULK_CONCURRENCY: '1',
      // The run cut off by the outage cannot release its ingest lease (ADR 0003): with a short
      // lifetime it has expired by the time Elasticsearch is back, and the next run takes it over.
      INGEST_LEASE_TTL_MS: '1000',
    });
    const samples = `http://127.0.0.1:${simPort}/feed`;
    const boot = await runToEnd('bootstrap', env(samples));
    expect({ code: boot.code, output: boot.code === 0 ? '' : boot.output }).toEqual({
      code: 0,
      output: '',
    });
    const first = await runToEnd('ingest', env(samples));
    expect(first.code).toBe(0);
    const before = await snapshot(es, prefix);
    expect(before.length).toBeGreaterThanOrEqual(3);

    // A large generated feed; Elasticsearch stops as soon as the run starts writing.
    const bigPort = await freePort();
    const bigSim = node('provider-sim', {
      PORT: String(bigPort),
      SIM_MODE: 'generated',
      SIM_BASE_EVENTS: '40000',
      SIM_ZONES: '5',
    });
    await eventually(
      async () => ((await fetch(`http://127.0.0.1:${bigPort}/healthz`)).ok ? true : undefined),
      15_000,
      'the large-feed simulator',
    );
    try {
      const ingest = node('ingest', env(`http://127.0.0.1:${bigPort}/feed`));
      await eventually(
        async () => (ingest.output().includes('"phase":"feed_read"') ? true : undefined),
        60_000,
        `the run to finish reading the feed\n${ingest.output()}`,
      );
      await esScript('stop');
      const exit = await ingest.exited;
      expect(exit.code).not.toBe(0);
      const summary = summaryOf(ingest.output());
      expect(summary?.outcome).toBe('failed');
      expect(summary?.error).toBeTruthy();
    } finally {
      await stop(bigSim);
    }

    await esScript('start');
    const after = await snapshot(es, prefix);
    // Everything stored before the run is still there, with the same values.
    const byId = new Map(after.map((d) => [d.id, d.source]));
    for (const doc of before) expect(byId.get(doc.id)).toEqual(doc.source);

    const next = await runToEnd('ingest', env(samples));
    expect({ code: next.code, output: next.code === 0 ? '' : next.output }).toEqual({
      code: 0,
      output: '',
    });
  }, 240_000);
});
