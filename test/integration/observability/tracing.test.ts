/**
 * Spans of real calls: an Elasticsearch request made with createEsClient (real Elasticsearch) and
 * a fetch to a loopback HTTP server, traced into an in-memory exporter.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { withoutTracing } from '../../../src/observability/spans.js';
import { shutdownTracing, startTracing, withSpan } from '../../../src/observability/tracing.js';
import { createEventReader, FIRST_FILTER_PATH } from '../../../src/api/search/event-reader.js';
import { createSearchBatcher } from '../../../src/api/search/search-batcher.js';
import { parseSearchWindow } from '../../../src/domain/search-window.js';
import { createEsClient } from '../../../src/store/client.js';
import { indexNames } from '../../../src/store/indices.js';
import { dropPrefix, testStoreEnv } from '../../support/es.js';
import { generatedRawEvents, seedEvents } from '../../support/seed.js';

const env = testStoreEnv('otel');

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span "${name}" in [${spans.map((s) => s.name).join(', ')}]`);
  return span;
}

let exporter: InMemorySpanExporter;
let processor: SimpleSpanProcessor;

function start(withUndici: boolean): void {
  exporter = new InMemorySpanExporter();
  processor = new SimpleSpanProcessor(exporter);
  startTracing({
    spanProcessors: [processor],
    // undici reports its requests on node:diagnostics_channel, so this one needs no loader hook.
    instrumentations: withUndici ? [new UndiciInstrumentation()] : [],
  });
}

async function finished(): Promise<ReadableSpan[]> {
  await processor.forceFlush();
  return exporter.getFinishedSpans();
}

afterEach(() => shutdownTracing());

describe('Elasticsearch spans (the client traces itself through @opentelemetry/api)', () => {
  it('a call yields a CLIENT span, a child of the active span in the same trace', async () => {
    start(false);
    // Created after the provider is registered, as in the processes (register.js runs first).
    const client = createEsClient(env);
    try {
      await withSpan('ingest.prepare', {}, () =>
        client.indices.exists({ index: `${env.ES_INDEX_PREFIX}-nothing` }),
      );
    } finally {
      await client.close();
    }

    const spans = await finished();
    const parent = byName(spans, 'ingest.prepare');
    const es = byName(spans, 'indices.exists');
    expect(es.kind).toBe(SpanKind.CLIENT);
    expect(es.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(es.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(es.attributes).toMatchObject({
      'db.system': 'elasticsearch',
      'db.operation.name': 'indices.exists',
      'db.collection.name': `${env.ES_INDEX_PREFIX}-nothing`,
      'http.request.method': 'HEAD',
    });
    expect(es.instrumentationScope.name).toBe('@elastic/transport');
  });

  it('withoutTracing suppresses the spans of what it runs (the freshness poll)', async () => {
    start(false);
    const client = createEsClient(env);
    try {
      await withoutTracing(() => client.indices.exists({ index: `${env.ES_INDEX_PREFIX}-quiet` }));
      await client.indices.exists({ index: `${env.ES_INDEX_PREFIX}-loud` });
    } finally {
      await client.close();
    }
    const spans = await finished();
    expect(spans.map((s) => s.attributes['db.collection.name'])).toEqual([
      `${env.ES_INDEX_PREFIX}-loud`,
    ]);
  });

  it('a failed call yields an ERROR span', async () => {
    start(false);
    const client = createEsClient(env);
    try {
      await expect(client.indices.get({ index: `${env.ES_INDEX_PREFIX}-missing` })).rejects.toThrow(
        /index_not_found_exception/,
      );
    } finally {
      await client.close();
    }

    const es = byName(await finished(), 'indices.get');
    expect(es.status.code).toBe(SpanStatusCode.ERROR);
    expect(es.attributes['db.response.status_code']).toBe('404');
  });

  it('with the undici instrumentation, the HTTP request is a child of the Elasticsearch span', async () => {
    start(true);
    const client = createEsClient(env);
    try {
      await client.cluster.health();
    } finally {
      await client.close();
    }

    const spans = await finished();
    const es = byName(spans, 'cluster.health');
    const http = spans.find((s) => s.parentSpanContext?.spanId === es.spanContext().spanId);
    expect(http?.kind).toBe(SpanKind.CLIENT);
    expect(http?.attributes['http.request.method']).toBe('GET');
    expect(http?.attributes['url.full']).toBe(`${env.ELASTICSEARCH_URL}/_cluster/health`);
  });
});

describe('the event reader (the API’s Elasticsearch calls)', () => {
  const window = parseSearchWindow({
    starts_at: '2021-01-01T00:00:00Z',
    ends_at: '2021-01-02T00:00:00Z',
  });

  /** Reads every page; the index does not exist, so the first call fails (404). */
  async function read(client: ReturnType<typeof createEsClient>): Promise<void> {
    const reader = createEventReader(client, indexNames(`${env.ES_INDEX_PREFIX}-reader`));
    await expect(
      (async () => {
        for await (const page of reader.pages(window)) void page;
      })(),
    ).rejects.toThrow(/index_not_found_exception/);
  }

  it('traces its calls inside a recording span (a sampled request), and builds none outside one', async () => {
    start(false);
    const client = createEsClient(env);
    try {
      // Outside any span: the client would otherwise start a root trace of its own.
      await read(client);
      await withSpan('GET /search', {}, () => read(client));
    } finally {
      await client.close();
    }
    const spans = await finished();
    const parent = byName(spans, 'GET /search');
    const searches = spans.filter((s) => s.name === 'search');
    expect(searches).toHaveLength(1);
    expect(searches[0]?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(searches[0]?.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('the searches of concurrent misses, batched (the API’s search batcher)', () => {
  const seededPrefix = `${env.ES_INDEX_PREFIX}-batched`;
  const admin = createEsClient(env);
  let seeded: ReturnType<typeof indexNames>;
  beforeAll(async () => {
    seeded = await seedEvents(admin, seededPrefix, generatedRawEvents(40));
  });
  afterAll(async () => {
    await dropPrefix(admin, seededPrefix);
    await admin.close();
  });
  const window = parseSearchWindow({
    starts_at: '2022-01-01T00:00:00Z',
    ends_at: '2022-01-02T00:00:00Z',
  });

  it('gives a sampled search sent in an _msearch a span of its own, a child of its request’s; an unsampled one none', async () => {
    start(false);
    const client = createEsClient(env);
    const observed: Array<[string, boolean]> = [];
    const batcher = createSearchBatcher(client, {
      filterPath: FIRST_FILTER_PATH,
      maxBatch: 16,
      observe: (operation, _seconds, failed) => observed.push([operation, failed]),
    });
    const found = createEventReader(client, seeded, { batcher });
    const missing = createEventReader(client, indexNames(`${seededPrefix}-missing`), { batcher });
    const first = (reader: typeof found) =>
      reader
        .pages(window)
        .next()
        .then(
          (page) => page.value?.length,
          (err: Error) => err.name,
        );
    try {
      // Asked in one turn: two sampled requests (one of them failing: its index does not exist)
      // and an unsampled one, in one _msearch.
      const answers = await Promise.all([
        withSpan('GET /search found', {}, () => first(found)),
        withSpan('GET /search missing', {}, () => first(missing)),
        first(found),
      ]);
      expect(answers).toEqual([expect.any(Number), 'ResponseError', answers[0]]);
      expect(answers[0]).toBeGreaterThan(0);
      expect(observed).toEqual([['msearch', true]]);
      // Alone, a sampled search is still a plain _search with the client's own span.
      await withSpan('GET /search alone', {}, () => first(found));
      expect(observed.at(-1)).toEqual(['search', false]);
    } finally {
      await client.close();
    }

    const spans = await finished();
    expect(spans.map((s) => s.name).sort()).toEqual([
      'GET /search alone',
      'GET /search found',
      'GET /search missing',
      'msearch',
      'msearch',
      'search',
    ]);
    const childOf = (parent: string) => {
      const id = byName(spans, parent).spanContext();
      const children = spans.filter((s) => s.parentSpanContext?.spanId === id.spanId);
      expect(children).toHaveLength(1);
      expect(children[0]?.spanContext().traceId).toBe(id.traceId);
      return children[0] as ReadableSpan;
    };
    const url = new URL(env.ELASTICSEARCH_URL);
    const common = {
      'db.system': 'elasticsearch',
      'db.operation.name': 'msearch',
      'http.request.method': 'POST',
      'db.operation.batch.size': 3,
      'server.address': url.hostname,
      'server.port': Number(url.port),
    };
    const ok = childOf('GET /search found');
    expect(ok.name).toBe('msearch');
    expect(ok.kind).toBe(SpanKind.CLIENT);
    expect(ok.status.code).toBe(SpanStatusCode.UNSET);
    expect(ok.attributes).toMatchObject({
      ...common,
      'db.collection.name': seeded.eventsAlias,
      'db.response.status_code': '200',
    });
    const failed = childOf('GET /search missing');
    expect(failed.name).toBe('msearch');
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes).toMatchObject({
      ...common,
      'db.collection.name': `${seededPrefix}-missing-events`,
      'db.response.status_code': '404',
      'error.type': 'ResponseError',
    });
    expect(failed.events.map((e) => e.name)).toEqual(['exception']);
    const alone = childOf('GET /search alone');
    expect(alone.name).toBe('search');
    expect(alone.instrumentationScope.name).toBe('@elastic/transport');
  });
});

describe('fetch (the provider feed)', () => {
  let server: Server;
  let url: string;
  const received: IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      received.push(req.headers);
      res.writeHead(200, { 'content-type': 'application/xml' }).end('<eventList/>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('yields a CLIENT span and sends its W3C traceparent', async () => {
    start(true);
    const body = await withSpan('ingest.fetch', {}, async () => (await fetch(url)).text());
    expect(body).toBe('<eventList/>');

    const spans = await finished();
    const parent = byName(spans, 'ingest.fetch');
    const client = byName(spans, 'GET');
    expect(client.kind).toBe(SpanKind.CLIENT);
    expect(client.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(client.attributes['http.response.status_code']).toBe(200);
    const { traceId, spanId } = client.spanContext();
    expect(received.at(-1)?.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });
});
