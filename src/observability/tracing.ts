/**
 * OpenTelemetry tracing for every process (see docs/adr/0007-observability.md).
 *
 * Processes load `register.ts` first (`node --import ./dist/observability/register.js ...`): it
 * registers the ESM loader hook and calls `startTracing()` before any application module is
 * imported, so the instrumented libraries (node:http, koa, undici) are patched when they load.
 *
 * Configuration is the standard `OTEL_*` environment, read by `@opentelemetry/sdk-node`:
 * `OTEL_SDK_DISABLED=true` turns everything off; `OTEL_SERVICE_NAME` / `OTEL_RESOURCE_ATTRIBUTES`
 * name the service (default `event-search`); `OTEL_EXPORTER_OTLP_ENDPOINT` (or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) and `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf` by
 * default, `http/json`, `grpc`) choose where spans go; `OTEL_TRACES_EXPORTER` (`otlp`, `console`,
 * `none`), `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*` and `OTEL_PROPAGATORS` (W3C `tracecontext,baggage` by
 * default) work as the specification says; `OTEL_NODE_DISABLED_INSTRUMENTATIONS` names the outgoing-call
 * instrumentations to leave off (`defaultInstrumentations`). Metrics are Prometheus (`metrics.ts`) and logs are pino
 * lines on stdout (`logger.ts`), so the SDK's own metric and log pipelines are not started.
 *
 * Elasticsearch calls need no instrumentation here: the `@elastic/elasticsearch` 8.x transport
 * opens a CLIENT span per API call through `@opentelemetry/api` (named after the endpoint, e.g.
 * `search`, with `db.system=elasticsearch`), unless `OTEL_ELASTICSEARCH_ENABLED=false`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  context,
  propagation,
  trace,
  type Context,
} from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
// What NodeSDK itself builds from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (not re-exported).
import { createSamplerFromEnv } from '@opentelemetry/sdk-node/build/src/create-from-env.js';
import {
  AlwaysOnSampler,
  ParentBasedSampler,
  RandomIdGenerator,
  SamplingDecision,
  type IdGenerator,
  type Sampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { isTracingSuppressed } from '@opentelemetry/core';

export const DEFAULT_SERVICE_NAME = 'event-search';

// The service's own spans (light: only @opentelemetry/api), re-exported for convenience.
import { setHeadSampler } from './spans.js';
export { TRACER_NAME, tracer, withSpan } from './spans.js';

export interface TracingOptions {
  /**
   * `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` sets one
   * (default `event-search`).
   */
  serviceName?: string;
  /**
   * Span processors to use instead of the exporter the `OTEL_TRACES_EXPORTER` /
   * `OTEL_EXPORTER_OTLP_*` variables describe (tests pass an in-memory exporter).
   */
  spanProcessors?: SpanProcessor[];
  /** Instrumentations to enable (default `defaultInstrumentations()`). */
  instrumentations?: Instrumentation[];
}

interface Running {
  sdk: NodeSDK;
  instrumentations: Instrumentation[];
}

let running: Running | undefined;

/** True when `OTEL_SDK_DISABLED` is `true` (case-insensitive, as the specification says). */
export function isTracingDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
}

/** True while an SDK started by `startTracing` is running. */
export function isTracingStarted(): boolean {
  return running !== undefined;
}

/**
 * The head-sampling decision for an incoming request, taken before anything is built for it.
 *
 * Unsampled requests are most requests (the chart samples one in ten): the API's `serverSpans`
 * middleware asks `sampled(headers)` first and does nothing more for them. The decision is the
 * SDK's own sampler, asked with what the tracer will give it for the server span: the context
 * extracted from the request's headers (a caller's sampled `traceparent` is continued, an unsampled
 * one is not) and the trace id. A sampled root request's trace id is handed to the tracer as the
 * next one it generates (this class is the SDK's id generator), so the tracer's own sampling of the
 * server span repeats the same decision (the standard samplers decide from the parent and the trace
 * id only) and the trace is complete.
 */
export class HeadSampling implements IdGenerator {
  private readonly random = new RandomIdGenerator();
  private next: string | undefined;

  constructor(
    readonly sampler: Sampler = createSamplerFromEnv() ??
      new ParentBasedSampler({ root: new AlwaysOnSampler() }),
  ) {}

  generateTraceId(): string {
    const id = this.next ?? this.random.generateTraceId();
    this.next = undefined;
    return id;
  }

  generateSpanId(): string {
    return this.random.generateSpanId();
  }

  /** The headers the global propagator reads, once one is registered (the SDK does at start). */
  private fields: string[] = [];

  /** True when the request is to be traced; called synchronously just before its span starts. */
  sampled(headers: IncomingHttpHeaders): boolean {
    return this.parentOf(headers) !== undefined;
  }

  /**
   * When the request is to be traced, the parent context of its server span (the caller's, if its
   * headers carry one, else the root context); undefined when it is not. Called synchronously just
   * before the span starts.
   */
  parentOf(headers: IncomingHttpHeaders): Context | undefined {
    if (this.fields.length === 0) this.fields = propagation.fields().map((f) => f.toLowerCase());
    // Most requests carry no trace header at all: nothing to extract then.
    const carried = this.fields.some((field) => headers[field] !== undefined);
    const parentContext = carried ? propagation.extract(ROOT_CONTEXT, headers) : ROOT_CONTEXT;
    const parent = trace.getSpanContext(parentContext);
    const root = parent === undefined || !trace.isSpanContextValid(parent);
    const traceId = root ? this.random.generateTraceId() : parent.traceId;
    const { decision } = this.sampler.shouldSample(
      parentContext,
      traceId,
      'HTTP',
      SpanKind.SERVER,
      {},
      [],
    );
    const sampled = decision !== SamplingDecision.NOT_RECORD;
    this.next = sampled && root ? traceId : undefined;
    return sampled ? parentContext : undefined;
  }
}

/**
 * undici / `fetch` (client spans, context injected) and outgoing `node:http`. Incoming requests get
 * their server span from the API's `serverSpans` middleware (src/api/http/server-span.ts), which
 * starts one only for the requests head sampling keeps and names it after the matched route
 * (`http.route`): the HTTP instrumentation's incoming side, which builds a span and a context for
 * every request, sampled or not, is off, and Koa's instrumentation is not used (its route span
 * repeated the server span's route, and its wrapper ran on every request: ADR 0017). Creating an
 * instrumentation patches its module, so call this only to start tracing.
 */
export function defaultInstrumentations(env: NodeJS.ProcessEnv = process.env): Instrumentation[] {
  // OTEL_NODE_DISABLED_INSTRUMENTATIONS (comma-separated names, as OpenTelemetry's Node
  // auto-instrumentations read it): the API sets `http,undici`, it makes no outgoing call but its
  // Elasticsearch queries, which the client traces itself (ADR 0017).
  const disabled = new Set(
    (env.OTEL_NODE_DISABLED_INSTRUMENTATIONS ?? '').split(',').map((name) => name.trim()),
  );
  const available: [string, () => Instrumentation][] = [
    ['http', () => new HttpInstrumentation({ disableIncomingRequestInstrumentation: true })],
    [
      'undici',
      () =>
        new UndiciInstrumentation({
          // A request made where tracing is suppressed (an unsampled search's Elasticsearch query,
          // background work) would get a span that is never recorded: skip the URL parsing, the
          // attributes and the header injection the instrumentation does first (ADR 0017).
          ignoreRequestHook: () => isTracingSuppressed(context.active()),
        }),
    ],
  ];
  // Creating one patches its module: only the enabled ones are created.
  return available.filter(([name]) => !disabled.has(name)).map(([, create]) => create());
}

/**
 * Starts the OpenTelemetry SDK and registers it globally. Returns false, and does nothing, when
 * `OTEL_SDK_DISABLED=true`. Calling it again while tracing runs changes nothing and returns true.
 */
export function startTracing(opts: TracingOptions = {}): boolean {
  if (isTracingDisabled()) return false;
  if (running) return true;
  const head = new HeadSampling();
  const instrumentations = opts.instrumentations ?? defaultInstrumentations();
  const sdk = new NodeSDK({
    // The sampler the environment describes, shared with the early decision, and the id generator
    // that hands a sampled request's trace id to its server span.
    sampler: head.sampler,
    idGenerator: head,
    // Detected attributes (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, host, process) are merged
    // over this resource, so the default name applies only when the environment gives none.
    resource: defaultResource().merge(
      resourceFromAttributes({ [ATTR_SERVICE_NAME]: opts.serviceName ?? DEFAULT_SERVICE_NAME }),
    ),
    instrumentations,
    // Prometheus carries the metrics and stdout the logs: no OTLP metric or log export.
    metricReaders: [],
    logRecordProcessors: [],
    ...(opts.spanProcessors ? { spanProcessors: opts.spanProcessors } : {}),
  });
  sdk.start();
  setHeadSampler((headers) => head.parentOf(headers));
  running = { sdk, instrumentations };
  return true;
}

/**
 * Exports every span still buffered, then stops the SDK and unregisters it, so a later
 * `startTracing` starts afresh. The short-lived ingester awaits it before it exits. Does nothing
 * when tracing is not running.
 */
export async function shutdownTracing(): Promise<void> {
  const current = running;
  if (!current) return;
  running = undefined;
  setHeadSampler(undefined);
  try {
    await current.sdk.shutdown();
  } finally {
    for (const instrumentation of current.instrumentations) instrumentation.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
