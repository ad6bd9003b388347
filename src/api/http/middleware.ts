/**
 * Cross-cutting Koa middleware: request ids, request logs, metrics and the error envelope.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Middleware, Next } from 'koa';
import { SearchWindowError } from '../../domain/search-window.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiMetrics } from '../../observability/metrics.js';
import { isUnavailable } from '../../store/errors.js';
import { BulkheadFullError } from '../search/bulkhead.js';
import { envelope, refuse } from './responses.js';

/** What every handler finds in `ctx.state`. */
export interface ApiState {
  requestId: string;
  log: Logger;
  /** How the search cache answered (hit, miss, coalesced, stale), for the request log. */
  cache?: string;
}

/** The route template the router matched (never the raw path, which would explode label sets). */
export function routeOf(ctx: Context): string {
  const matched = (ctx as { _matchedRoute?: string | RegExp })._matchedRoute;
  if (matched === undefined) return 'unmatched';
  return typeof matched === 'string' ? matched : matched.source;
}

const INCOMING_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** Takes `X-Request-Id` from the caller when it is sane, else mints one; echoes it back. */
export function requestId(): Middleware {
  return async (ctx: Context, next: Next) => {
    const incoming = ctx.get('X-Request-Id');
    const id = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    (ctx.state as ApiState).requestId = id;
    ctx.set('X-Request-Id', id);
    await next();
  };
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** A child logger per request, and one line per finished request. */
/**
 * Which requests get an access-log line at `info`: `all`, or only `errors` (status >= 400, aborted
 * responses and requests slower than `slowMs`; the others are logged at `debug`). At thousands of
 * requests per second per replica, `errors` keeps the logs useful and cheap: the ingress keeps its
 * own access log, and the metrics and traces count every request (docs/adr/0007-observability.md).
 */
export interface AccessLogPolicy {
  mode: 'all' | 'errors';
  slowMs: number;
}

export function requestLogger(
  logger: Logger,
  policy: AccessLogPolicy = { mode: 'all', slowMs: 250 },
  /** Monotonic nanoseconds (tests pass a clock they move). */
  clock: () => bigint = () => process.hrtime.bigint(),
): Middleware {
  return async (ctx: Context, next: Next) => {
    const state = ctx.state as ApiState;
    state.log = logger.child({ req_id: state.requestId });
    const started = clock();
    ctx.res.once('close', () => {
      const route = routeOf(ctx);
      const durationMs = Number(clock() - started) / 1e6;
      const aborted = !ctx.res.writableFinished;
      const notable =
        policy.mode === 'all' || ctx.status >= 400 || aborted || durationMs >= policy.slowMs;
      const level = notable && !QUIET_ROUTES.has(route) ? 'info' : 'debug';
      if (!state.log.isLevelEnabled(level)) return;
      state.log[level](
        {
          method: ctx.method,
          url: ctx.originalUrl,
          route,
          status: ctx.status,
          duration_ms: durationMs,
          cache: state.cache,
          aborted,
        },
        'request',
      );
    });
    await next();
  };
}

/** Request count, duration and in-flight gauge, labelled by route template. */
export function httpMetrics(metrics: ApiMetrics): Middleware {
  return async (ctx: Context, next: Next) => {
    metrics.httpInFlight.inc();
    const started = process.hrtime.bigint();
    // Recorded when the response is really over, so streamed bodies count their whole duration.
    ctx.res.once('close', () => {
      const labels = { method: ctx.method, route: routeOf(ctx), status: String(ctx.status) };
      metrics.httpRequests.inc(labels);
      metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      metrics.httpInFlight.dec();
    });
    await next();
  };
}

export interface ErrorMiddlewareOptions {
  retryAfterSeconds: number;
  /** Retry-After of a request the bulkhead refused (default `retryAfterSeconds`). */
  overloadRetryAfterSeconds?: number;
}

/**
 * Maps every failure to the envelope: 400 for a bad query (with its code), 404/405 for unknown
 * routes and methods, 503 + Retry-After when Elasticsearch is unavailable or the bulkhead is full
 * (`overloaded`), 500 for the rest. Stack
 * traces go to the log, never to the client.
 */
export function errorEnvelope(opts: ErrorMiddlewareOptions): Middleware {
  return async (ctx: Context, next: Next) => {
    try {
      await next();
      if (ctx.body == null && ctx.status === 404) {
        ctx.status = 404;
        ctx.body = envelope('not_found', `No route for ${ctx.method} ${ctx.path}`);
      } else if (ctx.body == null && ctx.status === 405) {
        ctx.body = envelope(
          'method_not_allowed',
          `${ctx.method} is not allowed on ${ctx.path}; allowed: ${ctx.response.get('Allow')}`,
        );
        ctx.status = 405;
      }
    } catch (err) {
      const log = (ctx.state as ApiState).log;
      // Headers set on the way (ETag, Cache-Control...) belonged to the answer that failed.
      for (const name of ['ETag', 'Cache-Control', 'X-Cache', 'Last-Modified']) ctx.remove(name);
      if (err instanceof SearchWindowError) {
        refuse(ctx, { status: 400, code: err.code, message: err.message, noStore: false });
        return;
      }
      if (err instanceof BulkheadFullError) {
        // The request line (503) and the rejection counter say it: no line of its own.
        refuse(ctx, {
          status: 503,
          code: 'overloaded',
          message: err.message,
          retryAfterSeconds: opts.overloadRetryAfterSeconds ?? opts.retryAfterSeconds,
        });
        return;
      }
      if (isUnavailable(err)) {
        log.warn({ err }, 'Elasticsearch unavailable');
        refuse(ctx, {
          status: 503,
          code: 'service_unavailable',
          message:
            'The event store is temporarily unavailable; retry after the delay in Retry-After',
          retryAfterSeconds: opts.retryAfterSeconds,
        });
        return;
      }
      const status = (err as { status?: unknown }).status;
      const expose = (err as { expose?: unknown }).expose === true;
      if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
        // Errors Koa or the router raise themselves (e.g. a malformed request).
        ctx.status = status;
        ctx.body = envelope(
          status === 400 ? 'bad_request' : `http_${status}`,
          (err as Error).message,
        );
        return;
      }
      log.error({ err }, 'unexpected error');
      ctx.status = 500;
      ctx.body = envelope('internal_error', 'Internal server error');
    }
  };
}

/**
 * Refuses a request whose URL (path and query string) is longer than `maxLength` characters with
 * 414 `uri_too_long`, before anything parses it. (Node itself refuses a request line plus headers
 * above its maxHeaderSize with 431; see src/api/server.ts.)
 */
export function urlLengthLimit(maxLength: number): Middleware {
  return async (ctx: Context, next: Next) => {
    if (ctx.originalUrl.length > maxLength) {
      refuse(ctx, {
        status: 414,
        code: 'uri_too_long',
        message: `The request URL is ${ctx.originalUrl.length} characters long; at most ${maxLength} are accepted`,
      });
      return;
    }
    await next();
  };
}
