/**
 * The server span of an incoming request, started only for the requests head sampling keeps
 * (docs/adr/0007-observability.md, "Tracing on the hot path").
 *
 * OpenTelemetry's HTTP instrumentation builds, for every request whether sampled or not, the
 * request's attributes, a span, an active context and context-bound request and response emitters:
 * about half of a cached answer's throughput with the chart's one-in-ten sampling. Its incoming side
 * is therefore off (`tracing.ts`), and this middleware, first in the chain, asks the SDK's sampler
 * (`currentHeadSampler`) before it creates anything. A sampled request gets a SERVER span in the
 * caller's trace (W3C `traceparent` extracted, so a caller's sampled trace is continued), made the
 * active context for the rest of the chain (the Elasticsearch client's span becomes its child; the
 * request layer writes the access log line in it, so the line carries its trace id).
 * The span is named after the matched route (`GET /search`), carries it as `http.route`, and ends
 * when the response closes: the trace's route is here, not in a span of its own (ADR 0017).
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import type { Context, Middleware, Next } from 'koa';
import { currentHeadSampler, tracer } from '../../observability/spans.js';
import { routeOf } from './middleware.js';

/**
 * Incoming requests that get no trace: probes and scrapes arrive every few seconds on every
 * replica and would drown the traces of real traffic.
 */
export const UNTRACED_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

/** The context of a request that is not traced: one shared value, nothing built per request. */
const UNTRACED = suppressTracing(ROOT_CONTEXT);

export function serverSpans(): Middleware {
  // Not async: it returns the rest of the chain's promise, without one of its own per request.
  return (ctx: Context, next: Next) => {
    const headSampler = currentHeadSampler();
    if (headSampler === undefined) return next();
    const parent = UNTRACED_PATHS.includes(ctx.path) ? undefined : headSampler(ctx.req.headers);
    if (parent === undefined) {
      // Nothing it calls (Elasticsearch, fetch) starts a trace of its own either.
      return context.with(UNTRACED, next);
    }
    const span = tracer().startSpan(
      ctx.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: ctx.method,
          [ATTR_URL_PATH]: ctx.path,
          [ATTR_URL_SCHEME]: ctx.protocol,
          ...(ctx.get('User-Agent') ? { [ATTR_USER_AGENT_ORIGINAL]: ctx.get('User-Agent') } : {}),
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    ctx.res.once('close', () => {
      const route = routeOf(ctx);
      if (route !== 'unmatched') {
        span.setAttribute(ATTR_HTTP_ROUTE, route);
        span.updateName(`${ctx.method} ${route}`);
      }
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, ctx.status);
      if (!ctx.res.writableFinished)
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'aborted' });
      else if (ctx.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    return context.with(active, next);
  };
}
