/**
 * The layer every request goes through (docs/adr/0017-search-hot-and-cold-paths.md): request id,
 * draining, security headers, the URL length bound and the error envelope on the way in; request
 * metrics and the access log when the response closes. One Koa layer and one `close` listener
 * rather than six layers and two listeners: on a cached answer, the chain itself (a promise, a
 * bound `next` and a closure per layer) was a large part of the work.
 */
import { randomUUID } from 'node:crypto';
import { context, type Context as OtelContext } from '@opentelemetry/api';
import type { Context, Middleware, Next } from 'koa';
import { SearchWindowError } from '../../domain/search-window.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiMetrics } from '../../observability/metrics.js';
import { isUnavailable } from '../../store/errors.js';
import { BulkheadFullError } from '../search/bulkhead.js';
import { envelope, refuse } from './responses.js';
import { applyHeaders, type HeaderSet } from './security-headers.js';

/** What every handler finds in `ctx.state`. */
export interface ApiState {
  readonly requestId: string;
  /** The request's logger (a child carrying `req_id`). */
  readonly log: Logger;
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

/**
 * Mints request ids: UUID-shaped, a random prefix drawn once per process and a counter, so they
 * are unique across replicas without drawing random bytes per request.
 */
export function requestIds(): () => string {
  const prefix = randomUUID().slice(0, 24);
  let next = 0;
  return () => {
    const id = prefix + next.toString(16).padStart(12, '0');
    next = next + 1 === 2 ** 48 ? 0 : next + 1;
    return id;
  };
}

/** A request's state; its child logger is made only when something logs (most requests never do). */
class RequestState implements ApiState {
  cache?: string;
  #log: Logger | undefined;

  constructor(
    private readonly logger: Logger,
    readonly requestId: string,
    /** The headers every answer to this request gets (see `answerHeaders`). */
    readonly headers: HeaderSet,
    /** Draining: every answer asks its client to close the connection. */
    readonly closing: boolean,
  ) {}

  get log(): Logger {
    this.#log ??= this.logger.child({ req_id: this.requestId });
    return this.#log;
  }
}

/**
 * The headers the request layer puts on every answer, as name/value pairs in one flat list (the
 * form `writeHead` takes): the request id, `Connection: close` while draining, the security
 * headers. Undefined when `ctx` did not go through the request layer.
 */
function answerHeaders(ctx: Context): string[] | undefined {
  const state = ctx.state as unknown;
  if (!(state instanceof RequestState)) return undefined;
  const headers = ['X-Request-Id', state.requestId];
  if (state.closing) headers.push('Connection', 'close');
  for (const pair of state.headers.set) headers.push(pair[0], pair[1]);
  return headers;
}

/**
 * Ends the response at once: `status`, the headers every answer gets (above), `headers` (flat
 * name/value pairs), `Content-Length` and `body`, in one `writeHead` and one `end`, instead of
 * Koa's response (a `setHeader` per header, each name validated and lowered, then every header
 * validated again when they are written: on a cached answer the headers were the largest part of
 * the API's own work, ADR 0017). For complete answers known in advance (a cached search answer)
 * to GET requests without validators; anything else goes through Koa. Falls back to Koa when the
 * request did not go through the request layer or something already set a header.
 */
export function answerAtOnce(ctx: Context, status: number, headers: string[], body: Buffer): void {
  const common = ctx.res.headersSent ? undefined : answerHeaders(ctx);
  if (common === undefined || ctx.res.getHeaderNames().length > 0) {
    ctx.status = status;
    for (let i = 0; i < headers.length; i += 2)
      ctx.set(headers[i] as string, headers[i + 1] as string);
    ctx.body = body;
    return;
  }
  // What the metrics, the access log and the server span read.
  ctx.status = status;
  ctx.respond = false;
  for (const header of headers) common.push(header);
  common.push('Content-Length', String(body.length));
  ctx.res.writeHead(status, common);
  ctx.res.end(body);
}

const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

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

export interface RequestLayerOptions extends ErrorMiddlewareOptions {
  logger: Logger;
  metrics: Pick<ApiMetrics, 'httpRequests' | 'httpDuration' | 'httpInFlight'>;
  /** While `shuttingDown`, every answer asks its client to close the connection. */
  lifecycle: { readonly shuttingDown: boolean };
  accessLog: AccessLogPolicy;
  /** The security headers of a path (see security-headers.ts). */
  securityHeaders: (path: string) => HeaderSet;
  /** A longer request URL (path and query) gets 414 `uri_too_long`, before anything parses it. */
  maxUrlLength: number;
  /** Monotonic nanoseconds (tests pass a clock they move). */
  clock?: () => bigint;
}

/**
 * Takes `X-Request-Id` from the caller when it is sane, else mints one; refuses a URL longer than
 * `maxUrlLength` (414; node itself refuses a request line plus headers above its maxHeaderSize
 * with 431, see server.ts); runs the rest inside the error envelope (`answerError`); then puts on
 * the answer the request id, `Connection: close` while draining, and the security headers (or a
 * handler sent them itself with the answer: `answerAtOnce`). When the response is really over
 * (streamed bodies included): the request count, duration and in-flight gauge, labelled by route
 * template, and the access-log line.
 */
export function requestLayer(opts: RequestLayerOptions): Middleware {
  const clock = opts.clock ?? (() => process.hrtime.bigint());
  const mintId = requestIds();
  const { logger, metrics, accessLog } = opts;

  function closed(ctx: Context, state: ApiState, started: bigint, trace: OtelContext): void {
    const route = routeOf(ctx);
    const status = ctx.status;
    const seconds = Number(clock() - started) / 1e9;
    const labels = { method: ctx.method, route, status: String(status) };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, seconds);
    metrics.httpInFlight.dec();

    const aborted = !ctx.res.writableFinished;
    const notable =
      accessLog.mode === 'all' || status >= 400 || aborted || seconds * 1000 >= accessLog.slowMs;
    const level = notable && !QUIET_ROUTES.has(route) ? 'info' : 'debug';
    if (!logger.isLevelEnabled(level)) return;
    const line = {
      method: ctx.method,
      url: ctx.originalUrl,
      route,
      status,
      duration_ms: seconds * 1000,
      cache: state.cache,
      aborted,
    };
    // In the request's trace (a sampled request's line carries its trace id): listeners of the
    // response do not run in the context they were added in.
    context.with(trace, () => state.log[level](line, 'request'));
  }

  return async (ctx: Context, next: Next) => {
    const started = clock();
    const incoming = ctx.req.headers['x-request-id'];
    const id = typeof incoming === 'string' && INCOMING_ID.test(incoming) ? incoming : mintId();
    const res = ctx.res;
    const state = new RequestState(
      logger,
      id,
      opts.securityHeaders(ctx.path),
      opts.lifecycle.shuttingDown,
    );
    ctx.state = state;
    metrics.httpInFlight.inc();
    const trace = context.active();
    res.once('close', () => closed(ctx, state, started, trace));

    try {
      if (ctx.originalUrl.length > opts.maxUrlLength) {
        refuse(ctx, {
          status: 414,
          code: 'uri_too_long',
          message: `The request URL is ${ctx.originalUrl.length} characters long; at most ${opts.maxUrlLength} are accepted`,
        });
      } else {
        await next();
        answerUnrouted(ctx);
      }
    } catch (err) {
      answerError(ctx, err, opts);
    }
    // The headers every answer gets, put once the answer is decided (Koa sends it after this
    // layer returns), unless a handler has sent it already with them (`answerAtOnce`).
    if (!res.headersSent) {
      res.setHeader('X-Request-Id', id);
      if (state.closing) res.setHeader('Connection', 'close');
      applyHeaders(res, state.headers);
    }
  };
}

export interface ErrorMiddlewareOptions {
  retryAfterSeconds: number;
  /** Retry-After of a request the bulkhead refused (default `retryAfterSeconds`). */
  overloadRetryAfterSeconds?: number;
}

/** 404 and 405 in the envelope, for what no route answered. */
function answerUnrouted(ctx: Context): void {
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
}

/**
 * Maps every failure to the envelope: 400 for a bad query (with its code), 503 + Retry-After when
 * Elasticsearch is unavailable or the bulkhead is full (`overloaded`), 500 for the rest. Stack
 * traces go to the log, never to the client.
 */
function answerError(ctx: Context, err: unknown, opts: ErrorMiddlewareOptions): void {
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
      message: 'The event store is temporarily unavailable; retry after the delay in Retry-After',
      retryAfterSeconds: opts.retryAfterSeconds,
    });
    return;
  }
  const status = (err as { status?: unknown }).status;
  const expose = (err as { expose?: unknown }).expose === true;
  if (typeof status === 'number' && status >= 400 && status < 500 && expose) {
    // Errors Koa or the router raise themselves (e.g. a malformed request).
    ctx.status = status;
    ctx.body = envelope(status === 400 ? 'bad_request' : `http_${status}`, (err as Error).message);
    return;
  }
  log.error({ err }, 'unexpected error');
  ctx.status = 500;
  ctx.body = envelope('internal_error', 'Internal server error');
}
