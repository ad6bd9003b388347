/**
 * The search API's routes: `/search` (the window, parsed once per distinct query string, answered
 * by the search cache), the probes and `/metrics`.
 */
import type Koa from 'koa';
import type Router from '@koa/router';
import { LRUCache } from 'lru-cache';
import { parseSearchWindow, type SearchWindow } from '../domain/search-window.js';
import type { ApiMetrics } from '../observability/metrics.js';
import { answerAtOnce, type ApiState } from './http/middleware.js';
import type { SearchAnswer, SearchCache } from './search/search-cache.js';

/** Shared with the process: shutdown flips `shuttingDown` so readiness fails first. */
export interface Lifecycle {
  shuttingDown: boolean;
}

const SEARCH_PATH = '/search';

/** The media type of search answers. */
const JSON_TYPE = 'application/json; charset=utf-8';

/** Whether the request carries a validator (`If-None-Match`, `If-Modified-Since`). */
function isConditional(ctx: Koa.Context): boolean {
  const headers = ctx.req.headers;
  return headers['if-none-match'] !== undefined || headers['if-modified-since'] !== undefined;
}

/** The promise of work already done. */
const DONE: Promise<void> = Promise.resolve();

/** Distinct query strings whose parsed window is kept (see `windowOf`). */
const WINDOW_MEMO_ENTRIES = 10_000;

export interface SearchRouteOptions {
  /** `hit`, when present, answers a cached window without a promise (the hot path). */
  cache: Pick<SearchCache, 'answer'> & Partial<Pick<SearchCache, 'hit'>>;
  /** `max-age` of search answers: how long before this replica may have newer data. */
  cacheMaxAgeSeconds: number;
  /** Wraps the handler (load shedding), inside the route: probes and docs are never shed. */
  guard: (ctx: Koa.Context, next: Koa.Next) => unknown;
}

/**
 * `GET /search` (and HEAD), registered on the router, which serves every spelling of the path it
 * matches and the 405 of other methods. Returns the same route as a middleware for the exact path,
 * to put before the router: most requests are `GET /search`, and the router's dispatch (matching,
 * then a middleware chain composed anew for every request) is a large part of the API's own work
 * on a cached answer (ADR 0017). It labels the request with the same route template as the router does.
 */
export function searchRoute(router: Router<ApiState>, opts: SearchRouteOptions): Koa.Middleware {
  const maxAge = Math.max(0, Math.ceil(opts.cacheMaxAgeSeconds));
  // Parsing a window costs more than answering it from the cache: popular
  // query strings are parsed once (least recently used out first).
  const windows = new LRUCache<string, SearchWindow>({ max: WINDOW_MEMO_ENTRIES });
  const windowOf = (ctx: Koa.Context): SearchWindow => {
    const raw = ctx.querystring;
    let window = windows.get(raw);
    if (!window) {
      window = parseSearchWindow(ctx.query);
      windows.set(raw, window);
    }
    return window;
  };

  const cacheControl = `public, max-age=${maxAge}`;
  const respond = (ctx: Koa.ParameterizedContext<ApiState>, answer: SearchAnswer) => {
    ctx.state.cache = answer.source;
    if (answer.kind === 'buffer' && ctx.method === 'GET' && !isConditional(ctx)) {
      // The hot path: a whole answer, its headers written at once.
      answerAtOnce(
        ctx,
        200,
        [
          'X-Cache',
          answer.source,
          'Cache-Control',
          cacheControl,
          'Content-Type',
          JSON_TYPE,
          'ETag',
          answer.etag,
        ],
        answer.body,
      );
      return;
    }
    ctx.set('X-Cache', answer.source);
    ctx.set('Cache-Control', cacheControl);
    ctx.status = 200;
    // The full media type at once: `ctx.type` would look it up for every answer.
    ctx.set('Content-Type', JSON_TYPE);
    if (answer.kind === 'stream') {
      // HEAD never reads the body: release the query at once.
      if (ctx.method === 'HEAD') answer.stream.destroy();
      else {
        // A page that fails after the headers went out (an expired point in time under a slow
        // reader, Elasticsearch gone) aborts the connection: the chunked body never gets its last
        // chunk, so no client takes it for a complete 200 (docs/adr/0006-*.md).
        const socket = ctx.req.socket;
        answer.stream.once('error', () => socket.destroy());
        ctx.body = answer.stream;
      }
      return;
    }
    ctx.set('ETag', answer.etag);
    // Koa's freshness check copies every response header: ask it only for a conditional request.
    if (isConditional(ctx) && ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = answer.body;
  };
  // Not async: a cached answer is written without a promise of its own or a wait for one.
  const search = (ctx: Koa.ParameterizedContext<ApiState>): Promise<void> => {
    const window = windowOf(ctx);
    const hit = opts.cache.hit?.(window);
    if (hit) {
      respond(ctx, hit);
      return DONE;
    }
    return opts.cache.answer(window).then((answer) => respond(ctx, answer));
  };
  const route = (ctx: Koa.ParameterizedContext<ApiState>) => opts.guard(ctx, () => search(ctx));
  router.get('search', SEARCH_PATH, route);
  return (ctx, next) => {
    if (ctx.path !== SEARCH_PATH || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    // What the router records of a match (`routeOf` reads it: metrics, access log, server span).
    (ctx as { _matchedRoute?: string })._matchedRoute = SEARCH_PATH;
    return route(ctx as Koa.ParameterizedContext<ApiState>);
  };
}

export interface ProbeRouteOptions {
  metrics: ApiMetrics;
  lifecycle: Lifecycle;
  /**
   * The freshness poller: `warmed` once it has read the data version (the newest successful run,
   * or that there is none); refreshes the data-age gauge before a scrape. Absent: always warmed.
   */
  freshness?: { readonly warmed: boolean; updateAge(): void };
}

/**
 * `/healthz`, `/readyz` and `/metrics`.
 *
 * Readiness means "this pod can serve": it listens, it has observed the data version, and it is not
 * draining. Elasticsearch is deliberately not asked: it is shared by every replica, so an outage
 * would mark them all NotReady at once and the Service would refuse even the answers the caches
 * still hold (docs/adr/0012-production-semantics.md). Its reachability is the
 * `event_search_es_up` gauge and the EventSearchElasticsearchUnreachable alert instead.
 */
export function probeRoutes(router: Router<ApiState>, opts: ProbeRouteOptions): void {
  router.get('healthz', '/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('readyz', '/readyz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (opts.lifecycle.shuttingDown) {
      ctx.status = 503;
      ctx.body = { status: 'shutting_down' };
      return;
    }
    if (opts.freshness && !opts.freshness.warmed) {
      ctx.status = 503;
      ctx.body = { status: 'not_ready', reason: 'the data version has not been read yet' };
      return;
    }
    ctx.body = { status: 'ready' };
  });

  router.get('metrics', '/metrics', async (ctx) => {
    opts.freshness?.updateAge();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = opts.metrics.registry.contentType;
    ctx.body = await opts.metrics.registry.metrics();
  });
}
