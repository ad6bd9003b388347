/**
 * Traces of the real API process, loaded the way it runs in production:
 * `node --import ./dist/observability/register.js dist/main/api.js`, exporting OTLP/HTTP (JSON) to
 * a collector stand-in on loopback that keeps what it receives.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { eventually, freePort, runToEnd, start, stop, type Proc } from '../../support/processes.js';

/** The parts of an OTLP/JSON span this test reads. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: Record<string, unknown> }[];
}
interface Received {
  service: string;
  scope: string;
  span: OtlpSpan;
}
const SERVER = 2;
const CLIENT = 3;

const store = testStoreEnv('e2e-otel');
const client = testClient(store);
const received: Received[] = [];
let collector: Server;
let collectorUrl: string;

function attr(span: OtlpSpan | undefined, key: string): unknown {
  const value = span?.attributes.find((a) => a.key === key)?.value;
  return value === undefined ? undefined : Object.values(value)[0];
}

function startApi(port: number, env: NodeJS.ProcessEnv): Proc {
  return start(
    process.execPath,
    ['--import', './dist/observability/register.js', 'dist/main/api.js'],
    {
      ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
      ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
      PORT: String(port),
      OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      ...env,
    },
  );
}

async function untilHealthy(port: number, proc: Proc): Promise<void> {
  await eventually(
    async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined),
    30_000,
    `the API\n${proc.output()}`,
  );
}

const traceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
};

beforeAll(async () => {
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        const data = JSON.parse(body) as {
          resourceSpans: {
            resource: { attributes: OtlpSpan['attributes'] };
            scopeSpans: { scope: { name: string }; spans: OtlpSpan[] }[];
          }[];
        };
        for (const rs of data.resourceSpans) {
          const service = String(
            Object.values(
              rs.resource.attributes.find((a) => a.key === 'service.name')?.value ?? {},
            )[0],
          );
          for (const ss of rs.scopeSpans) {
            for (const span of ss.spans) received.push({ service, scope: ss.scope.name, span });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => collector.listen(port, '127.0.0.1', resolve));
  collectorUrl = `http://127.0.0.1:${port}`;
  const boot = await runToEnd('bootstrap', {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  });
  if (boot.code !== 0) throw new Error(`bootstrap failed:\n${boot.output}`);
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => collector.close(() => resolve()));
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

describe('the API started with --import register.js', () => {
  it('traces a /search: server span with its route, Elasticsearch call, in the caller’s trace', async () => {
    const port = await freePort();
    const api = startApi(port, {
      OTEL_SDK_DISABLED: 'false',
      OTEL_SERVICE_NAME: 'event-search-api',
      // As the chart runs the API: its Elasticsearch calls are traced by the client alone.
      OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,undici',
      FRESHNESS_POLL_MS: '60000',
    });
    try {
      await untilHealthy(port, api);
      const base = `http://127.0.0.1:${port}`;
      // Ready: the freshness poll has talked to Elasticsearch once (its connection is open).
      await eventually(
        async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined),
        20_000,
        'the API to be ready',
      );
      await fetch(`${base}/metrics`);
      // A caller that did not sample its trace (another window: a cache miss too): the API traces
      // neither the request nor its Elasticsearch call. Sent first, so its spans, if any, would be
      // exported before (or with) those of the sampled one.
      const unsampled = traceparent();
      const skipped = await fetch(
        `${base}/search?starts_at=2020-01-01T00:00:00&ends_at=2020-12-31T00:00:00`,
        { headers: { traceparent: unsampled.header.replace(/-01$/, '-00') } },
      );
      expect(skipped.status).toBe(200);
      const caller = traceparent();
      const res = await fetch(
        `${base}/search?starts_at=2021-01-01T00:00:00&ends_at=2021-12-31T00:00:00`,
        { headers: { traceparent: caller.header, 'x-request-id': 'sampled-search' } },
      );
      expect(res.status).toBe(200);

      const spans = await eventually(
        async () => {
          const inTrace = received.filter((r) => r.span.traceId === caller.traceId);
          return inTrace.some((r) => r.scope === '@elastic/transport') &&
            inTrace.some((r) => r.span.kind === SERVER)
            ? inTrace
            : undefined;
        },
        15_000,
        `the spans of the search\n${api.output()}`,
      );

      const server = spans.find((r) => r.span.kind === SERVER);
      expect(server?.span.name).toBe('GET /search');
      expect(server?.span.parentSpanId).toBe(caller.parentId);
      expect(attr(server?.span, 'http.route')).toBe('/search');
      expect(server?.service).toBe('event-search-api');

      // The route is the server span's (name and http.route): Koa gets no span of its own, for
      // the route or any middleware (ADR 0017).
      expect(spans.filter((r) => r.scope.includes('koa') || attr(r.span, 'koa.type'))).toEqual([]);

      const es = spans.find((r) => r.scope === '@elastic/transport');
      expect(es?.span.kind).toBe(CLIENT);
      expect(attr(es?.span, 'db.system')).toBe('elasticsearch');
      expect(es?.span.name).toBe('search');
      // The Elasticsearch span is the server span's child.
      expect(es?.span.parentSpanId).toBe(server?.span.spanId);
      // ...and the only span of that call: no undici span under it.
      expect(spans.filter((r) => r.scope.includes('undici') || r.scope.includes('http'))).toEqual(
        [],
      );

      // Nothing the API did outside the sampled request (the unsampled one's Elasticsearch call,
      // the probes' checks) started a trace of its own.
      expect(
        received.filter(
          (r) => r.service === 'event-search-api' && r.span.traceId !== caller.traceId,
        ),
      ).toEqual([]);

      // Probes and scrapes are not traced.
      const serverNames = received.filter((r) => r.span.kind === SERVER).map((r) => r.span.name);
      expect(serverNames.filter((n) => /readyz|metrics|healthz/.test(n))).toEqual([]);

      // Every log line of the request carries the trace id.
      const lines = api
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; req_id?: string; trace_id?: string });
      const request = lines.find((l) => l.msg === 'request' && l.req_id === 'sampled-search');
      expect(request?.trace_id).toBe(caller.traceId);
      // The loader hook is registered in-thread (module.registerHooks): no DEP0205 warning.
      expect(api.output()).not.toContain('DEP0205');
    } finally {
      await stop(api);
    }
  }, 60_000);

  it('exports nothing with OTEL_SDK_DISABLED=true', async () => {
    const port = await freePort();
    const before = received.length;
    // Polls Elasticsearch every 200 ms: each poll would be a trace if the SDK ran.
    const api = startApi(port, { OTEL_SDK_DISABLED: 'true', FRESHNESS_POLL_MS: '200' });
    try {
      await untilHealthy(port, api);
      const caller = traceparent();
      const res = await fetch(
        `http://127.0.0.1:${port}/search?starts_at=2021-01-01T00:00:00&ends_at=2021-12-31T00:00:00`,
        { headers: { traceparent: caller.header } },
      );
      expect(res.status).toBe(200);
      // Longer than the export delay an enabled SDK would use.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(received.length).toBe(before);
    } finally {
      await stop(api);
    }
  }, 60_000);
});

describe('the ingester started with --import register.js', () => {
  it('exports its run and phase spans in one trace before it exits', async () => {
    const feed = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(readFileSync(new URL('../../fixtures/response_1.xml', import.meta.url)));
    });
    const feedPort = await freePort();
    await new Promise<void>((resolve) => feed.listen(feedPort, '127.0.0.1', resolve));
    try {
      const ingest = start(
        process.execPath,
        ['--import', './dist/observability/register.js', 'dist/main/ingest.js'],
        {
          ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
          ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
          PROVIDER_URL: `http://127.0.0.1:${feedPort}/feed`,
          OTEL_SDK_DISABLED: 'false',
          OTEL_SERVICE_NAME: 'event-search-ingest',
          OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl,
          OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
          // A long batch delay: only the flush before exit can deliver the spans in time.
          OTEL_BSP_SCHEDULE_DELAY: '60000',
        },
      );
      const exit = await ingest.exited;
      expect({ code: exit.code, output: exit.code === 0 ? '' : ingest.output() }).toEqual({
        code: 0,
        output: '',
      });

      // Everything must already be there: the process is gone.
      const spans = received.filter((r) => r.service === 'event-search-ingest');
      const byName = new Map(spans.map((r) => [r.span.name, r.span]));
      const root = byName.get('ingest.run');
      expect(root).toBeDefined();
      for (const phase of ['ingest.check_indices', 'ingest.read_feed', 'ingest.write']) {
        expect({ phase, traceId: byName.get(phase)?.traceId }).toEqual({
          phase,
          traceId: root?.traceId,
        });
      }
      expect(byName.get('ingest.read_feed')?.parentSpanId).toBe(root?.spanId);
      expect(attr(byName.get('ingest.read_feed'), 'event_search.feed.events')).toBe(3);
      // The provider fetch and the Elasticsearch writes are in the same trace.
      const inTrace = spans.filter((r) => r.span.traceId === root?.traceId);
      expect(inTrace.some((r) => r.span.kind === CLIENT && r.scope.includes('undici'))).toBe(true);
      expect(inTrace.some((r) => r.scope === '@elastic/transport' && r.span.name === 'bulk')).toBe(
        true,
      );
    } finally {
      await new Promise<void>((resolve) => feed.close(() => resolve()));
    }
  }, 60_000);
});
