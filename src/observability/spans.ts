/**
 * The service's own spans (ingest phases, named operations). Depends on `@opentelemetry/api` (and
 * `suppressTracing` of `@opentelemetry/core`), not on the SDK,
 * so application code can use it without loading the SDK: when tracing is not started (or
 * `OTEL_SDK_DISABLED=true`) the API's no-op tracer makes these calls nearly free.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { suppressTracing } from '@opentelemetry/core';
import {
  SpanStatusCode,
  context,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/** Name of the tracer behind `withSpan` (the instrumentation scope of the service's own spans). */
export const TRACER_NAME = 'event-search';

/** The service's own tracer (a no-op one when tracing is not running). */
export function tracer(): Tracer {
  return trace.getTracer(TRACER_NAME);
}

/**
 * Runs `fn` inside a new active span named `name`, a child of the active span if there is one.
 * The span records an exception and the ERROR status when `fn` throws (the error is rethrown) and
 * ends when `fn` settles. Spans that `fn` opens (Elasticsearch calls, fetches, nested `withSpan`)
 * become its children.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Exports every span still buffered (the batch processor sends every few seconds): a short-lived
 * process awaits this before it exits, or its last spans are lost. Works through the global
 * provider, so the caller needs no reference to the SDK; does nothing when tracing is off.
 */
export async function flushSpans(): Promise<void> {
  const global = trace.getTracerProvider() as { getDelegate?: () => unknown };
  const provider = (global.getDelegate?.() ?? global) as { forceFlush?: () => Promise<void> };
  await provider.forceFlush?.();
}

/**
 * True when the active context has a span that records (a sampled request's): only then would a
 * client span (the Elasticsearch client's own) be kept. Untraced work (an unsampled request,
 * tracing off) can skip building one (ADR 0017).
 */
export function isRecording(): boolean {
  return trace.getSpan(context.active())?.isRecording() === true;
}

/**
 * Runs `fn` with tracing suppressed: nothing it does (Elasticsearch calls included) starts a span.
 * For background housekeeping that would otherwise make a root trace every few seconds per replica.
 */
export function withoutTracing<T>(fn: () => T): T {
  return context.with(suppressTracing(context.active()), fn);
}

/**
 * Whether an incoming request is traced, from its headers: the SDK's head-sampling decision, set
 * by `startTracing` (`tracing.ts`), cleared by `shutdownTracing`. Unset, no request is traced. A
 * traced request gets the parent context of its server span (the caller's trace, when its headers
 * carry one); an untraced one, undefined.
 */
export type HeadSampler = (headers: IncomingHttpHeaders) => Context | undefined;

let headSampler: HeadSampler | undefined;

export function setHeadSampler(sampler: HeadSampler | undefined): void {
  headSampler = sampler;
}

export function currentHeadSampler(): HeadSampler | undefined {
  return headSampler;
}
