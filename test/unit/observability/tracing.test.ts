import { afterEach, describe, expect, it } from '@jest/globals';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  ParentBasedSampler,
  SamplingDecision,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import {
  DEFAULT_SERVICE_NAME,
  defaultInstrumentations,
  HeadSampling,
  TRACER_NAME,
  isTracingDisabled,
  isTracingStarted,
  shutdownTracing,
  startTracing,
  withSpan,
} from '../../../src/observability/tracing.js';

/** Keeps what it received after shutdown (the stock one empties itself), to check the flush. */
class KeepingExporter extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

function byName(spans: ReadableSpan[], name: string): ReadableSpan {
  const span = spans.find((s) => s.name === name);
  if (!span) throw new Error(`no span "${name}" in [${spans.map((s) => s.name).join(', ')}]`);
  return span;
}

/**
 * Starts tracing into a fresh in-memory exporter. `flush` waits for the exports a
 * SimpleSpanProcessor defers until the detected resource attributes (host id, ...) are known.
 */
function startInMemory(): { exporter: InMemorySpanExporter; flush: () => Promise<void> } {
  const exporter = new InMemorySpanExporter();
  const processor = new SimpleSpanProcessor(exporter);
  startTracing({ spanProcessors: [processor], instrumentations: [] });
  return { exporter, flush: () => processor.forceFlush() };
}

const savedEnv = { ...process.env };
afterEach(async () => {
  await shutdownTracing();
  process.env = { ...savedEnv };
});

describe('withSpan', () => {
  it('nests spans in one trace, parent to child, and returns what fn returns', async () => {
    const { exporter, flush } = startInMemory();
    expect(isTracingStarted()).toBe(true);

    const result = await withSpan('ingest.run', { 'ingest.run_id': 'r1' }, async () => {
      const inner = await withSpan('ingest.fetch', {}, async (span) => {
        span.setAttribute('ingest.bytes', 42);
        return trace.getActiveSpan()?.spanContext().spanId;
      });
      await withSpan('ingest.write', { 'ingest.batch': 1 }, () => 'sync values work too');
      return inner;
    });

    await flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(['ingest.fetch', 'ingest.run', 'ingest.write']);
    const run = byName(spans, 'ingest.run');
    const fetch = byName(spans, 'ingest.fetch');
    const write = byName(spans, 'ingest.write');
    expect(result).toBe(fetch.spanContext().spanId);
    expect(run.parentSpanContext).toBeUndefined();
    for (const child of [fetch, write]) {
      expect(child.spanContext().traceId).toBe(run.spanContext().traceId);
      expect(child.parentSpanContext?.spanId).toBe(run.spanContext().spanId);
    }
    expect(run.attributes).toEqual({ 'ingest.run_id': 'r1' });
    expect(fetch.attributes).toEqual({ 'ingest.bytes': 42 });
    expect(run.instrumentationScope.name).toBe(TRACER_NAME);
    expect(run.resource.attributes['service.name']).toBe(DEFAULT_SERVICE_NAME);
  });

  it('marks the span as failed, records the exception and rethrows', async () => {
    const { exporter, flush } = startInMemory();

    await expect(
      withSpan('ingest.parse', {}, async () => {
        throw new Error('feed ended mid-document');
      }),
    ).rejects.toThrow('feed ended mid-document');
    await flush();

    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'feed ended mid-document',
    });
    expect(span?.events.map((e) => e.name)).toEqual(['exception']);
    expect(span?.events[0]?.attributes?.['exception.message']).toBe('feed ended mid-document');
  });

  it('still runs fn, untraced, when tracing is not started', async () => {
    expect(isTracingStarted()).toBe(false);
    await expect(withSpan('anything', {}, async (span) => span.isRecording())).resolves.toBe(false);
  });
});

describe('startTracing / shutdownTracing', () => {
  it('shutdownTracing exports the spans a batch processor still holds', async () => {
    const exporter = new KeepingExporter();
    startTracing({
      // A delay far longer than the test: only the shutdown can export these spans.
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 600_000 })],
      instrumentations: [],
    });
    await withSpan('ingest.run', {}, () => withSpan('ingest.bulk', {}, () => undefined));
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    await shutdownTracing();

    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['ingest.bulk', 'ingest.run']);
    expect(isTracingStarted()).toBe(false);
  });

  it('takes the service name from OTEL_SERVICE_NAME, and can start again after a shutdown', async () => {
    startInMemory();
    await withSpan('one', {}, () => undefined);
    await shutdownTracing();

    process.env.OTEL_SERVICE_NAME = 'event-search-ingest';
    const { exporter: second, flush } = startInMemory();
    await withSpan('two', {}, () => undefined);
    await flush();

    expect(second.getFinishedSpans().map((s) => s.name)).toEqual(['two']);
    expect(second.getFinishedSpans()[0]?.resource.attributes['service.name']).toBe(
      'event-search-ingest',
    );
  });

  it('is a second call that changes nothing while tracing runs', async () => {
    const { exporter, flush } = startInMemory();
    const other = new InMemorySpanExporter();
    expect(
      startTracing({ spanProcessors: [new SimpleSpanProcessor(other)], instrumentations: [] }),
    ).toBe(true);
    await withSpan('once', {}, () => undefined);
    await flush();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(other.getFinishedSpans()).toHaveLength(0);
  });

  it('does nothing when OTEL_SDK_DISABLED=true', async () => {
    process.env.OTEL_SDK_DISABLED = 'TRUE';
    expect(isTracingDisabled()).toBe(true);
    const exporter = new InMemorySpanExporter();
    expect(
      startTracing({ spanProcessors: [new SimpleSpanProcessor(exporter)], instrumentations: [] }),
    ).toBe(false);
    expect(isTracingStarted()).toBe(false);
    await expect(withSpan('ignored', {}, () => 7)).resolves.toBe(7);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('reads OTEL_SDK_DISABLED as the specification does: only "true" disables', () => {
    expect(isTracingDisabled({ OTEL_SDK_DISABLED: 'false' })).toBe(false);
    expect(isTracingDisabled({ OTEL_SDK_DISABLED: '1' })).toBe(false);
    expect(isTracingDisabled({})).toBe(false);
    expect(isTracingDisabled({ OTEL_SDK_DISABLED: ' True ' })).toBe(true);
  });
});

describe('HeadSampling: the decision before anything is built for a request', () => {
  const caller = (flags: string) => ({
    traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-${flags}`,
  });

  it('continues a caller’s sampled trace, drops an unsampled one, samples no root at ratio 0', () => {
    startInMemory(); // registers the W3C propagator the decision extracts with
    const head = new HeadSampling(
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0) }),
    );
    expect(head.sampled(caller('01'))).toBe(true);
    expect(head.sampled(caller('00'))).toBe(false);
    expect(head.sampled({})).toBe(false);
  });

  it('hands a sampled root request’s trace id to the tracer, which then decides the same', () => {
    startInMemory();
    const ratio = new TraceIdRatioBasedSampler(0.5);
    const head = new HeadSampling(ratio);
    const tracerDecides = (traceId: string) => ratio.shouldSample(ROOT_CONTEXT, traceId).decision;
    const decisions = Array.from({ length: 200 }, () => {
      const sampled = head.sampled({});
      const traceId = head.generateTraceId(); // what the tracer does next for the server span
      // (An unsampled request gets no span: no second decision.)
      if (sampled) expect(tracerDecides(traceId)).toBe(SamplingDecision.RECORD_AND_SAMPLED);
      return sampled;
    });
    // Both outcomes occurred (the odds of 200 equal ones at 0.5 are 2^-199).
    expect(new Set(decisions)).toEqual(new Set([true, false]));
  });

  it('does not hand a trace id on after a decision for a caller’s trace', () => {
    startInMemory();
    const head = new HeadSampling(
      new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(1) }),
    );
    expect(head.sampled(caller('01'))).toBe(true);
    expect(head.generateTraceId()).not.toBe('ab'.repeat(16));
    expect(head.generateTraceId()).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('defaultInstrumentations', () => {
  const names = (env: NodeJS.ProcessEnv) => {
    const created = defaultInstrumentations(env);
    // Creating one patches its module: undo it for the other tests of this process.
    for (const instrumentation of created) instrumentation.disable();
    return created.map((instrumentation) => instrumentation.instrumentationName);
  };

  it('creates the HTTP and undici instrumentations by default', () => {
    expect(names({})).toEqual([
      '@opentelemetry/instrumentation-http',
      '@opentelemetry/instrumentation-undici',
    ]);
  });

  it('leaves out those OTEL_NODE_DISABLED_INSTRUMENTATIONS names (the API: all of them)', () => {
    expect(names({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'undici' })).toEqual([
      '@opentelemetry/instrumentation-http',
    ]);
    expect(names({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: ' http , undici' })).toEqual([]);
  });
});
