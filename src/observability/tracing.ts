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
 * default) work as the specification says. Metrics are Prometheus (`metrics.ts`) and logs are pino
 * lines on stdout (`logger.ts`), so the SDK's own metric and log pipelines are not started.
 *
 * Elasticsearch calls need no instrumentation here: the `@elastic/elasticsearch` 8.x transport
 * opens a CLIENT span per API call through `@opentelemetry/api` (named after the endpoint, e.g.
 * `search`, with `db.system=elasticsearch`), unless `OTEL_ELASTICSEARCH_ENABLED=false`.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { KoaInstrumentation, KoaLayerType } from '@opentelemetry/instrumentation-koa';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export const DEFAULT_SERVICE_NAME = 'event-search';

// The service's own spans (light: only @opentelemetry/api), re-exported for convenience.
export { TRACER_NAME, tracer, withSpan } from './spans.js';

/**
 * Incoming requests that get no trace: probes and scrapes arrive every few seconds on every
 * replica and would drown the traces of real traffic.
 */
export const UNTRACED_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

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

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/**
 * Incoming HTTP (server spans, W3C context extracted from `traceparent`), Koa routes (one span per
 * matched @koa/router route, none per middleware) and undici / `fetch` (client spans, context
 * injected). Creating an instrumentation patches its module, so call this only to start tracing.
 */
export function defaultInstrumentations(): Instrumentation[] {
  return [
    new HttpInstrumentation({
      ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.includes(pathOf(req.url)),
    }),
    new KoaInstrumentation({ ignoreLayersType: [KoaLayerType.MIDDLEWARE] }),
    new UndiciInstrumentation(),
  ];
}

/**
 * Starts the OpenTelemetry SDK and registers it globally. Returns false, and does nothing, when
 * `OTEL_SDK_DISABLED=true`. Calling it again while tracing runs changes nothing and returns true.
 */
export function startTracing(opts: TracingOptions = {}): boolean {
  if (isTracingDisabled()) return false;
  if (running) return true;
  const instrumentations = opts.instrumentations ?? defaultInstrumentations();
  const sdk = new NodeSDK({
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
  try {
    await current.sdk.shutdown();
  } finally {
    for (const instrumentation of current.instrumentations) instrumentation.disable();
    trace.disable();
    context.disable();
    propagation.disable();
  }
}
