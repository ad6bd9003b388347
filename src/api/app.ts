/**
 * The Koa application of the search API, built without listening (tests inject requests through
 * `app.callback()`; src/api/service.ts builds it with the rest of the process). Its settings come
 * from the API's configuration; `parts` are the collaborators (the search cache, the reader...)
 * the service builds, or a test scripts.
 *
 * The order of the layers, outermost first: the server span of a sampled request, the request layer
 * (request id, connection draining, security headers, the URL length bound, the error envelope,
 * and the metrics and access log when the response closes), rate limiting, then the routes (with
 * load shedding inside /search).
 */
import { METHODS } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import type { ApiEnv } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createApiMetrics, type ApiMetrics } from '../observability/metrics.js';
import { docsRoutes, readOpenApiYaml } from './docs-page.js';
import { shedWhenOverloaded, type LoadShedder } from './http/load-shedding.js';
import { requestLayer, type ApiState } from './http/middleware.js';
import { serverSpans } from './http/server-span.js';
import { rateLimit } from './http/rate-limit.js';
import { securityHeaders } from './http/security-headers.js';
import { probeRoutes, searchRoute, type Lifecycle } from './routes.js';
import type { SearchCache } from './search/search-cache.js';

export type { Lifecycle } from './routes.js';
export { readOpenApiYaml } from './docs-page.js';

/** The settings of the app: the API's configuration (see `apiEnv`). */
export type AppSettings = Pick<
  ApiEnv,
  | 'FRESHNESS_POLL_MS'
  | 'RETRY_AFTER_SECONDS'
  | 'RATE_LIMIT_ENABLED'
  | 'RATE_LIMIT_MAX'
  | 'RATE_LIMIT_WINDOW_MS'
  | 'SHED_RETRY_AFTER_SECONDS'
  | 'HTTP_MAX_URL_LENGTH'
  | 'ACCESS_LOG'
  | 'ACCESS_LOG_SLOW_MS'
  | 'PROXY_HOPS'
>;

export interface AppParts {
  cache: Pick<SearchCache, 'answer'> & Partial<Pick<SearchCache, 'hit'>>;
  logger?: Logger;
  metrics?: ApiMetrics;
  lifecycle?: Lifecycle;
  /** The freshness poller: readiness waits until it is warmed; refreshes the data-age gauge. */
  freshness?: { readonly warmed: boolean; updateAge(): void };
  /** Load shedding of /search when the event loop lags; absent: none. */
  shedder?: Pick<LoadShedder, 'overloaded' | 'lagMs'>;
  /** The contract served on `/openapi.yaml` (default: the repository's openapi.yaml). */
  openapiYaml?: string;
}

/** /search wrapped in load shedding (debug log and counter per shed request), or as it is. */
function sheddingGuard(settings: AppSettings, parts: AppParts, metrics: ApiMetrics) {
  const shedder = parts.shedder;
  if (!shedder) return (_ctx: Koa.Context, next: Koa.Next) => next();
  return shedWhenOverloaded(shedder, {
    retryAfterSeconds: settings.SHED_RETRY_AFTER_SECONDS,
    onShed: (ctx) => {
      metrics.shed.inc();
      // Debug only: the request line (status 503) and the counter say it already, and a line
      // per refused request would add load exactly when there is too much.
      (ctx.state as ApiState).log.debug(
        { lag_ms: Math.round(shedder.lagMs) },
        'shed: the event loop lags',
      );
    },
  });
}

/** Per-client rate limiting (RATE_LIMIT_*), labelling a refused request with its route. */
function clientRateLimit(settings: AppSettings, router: Router<ApiState>) {
  return rateLimit({
    max: settings.RATE_LIMIT_MAX,
    windowMs: settings.RATE_LIMIT_WINDOW_MS,
    onLimited: (ctx) => {
      // Label the request with the route it asked for (the router does not run for it).
      const layer = router.match(ctx.path, ctx.method).pathAndMethod.at(-1);
      if (layer) (ctx as { _matchedRoute?: string | RegExp })._matchedRoute = layer.path;
      (ctx.state as ApiState).log.debug({ client: ctx.ip }, 'rate limited');
    },
  });
}

export function createApp(settings: AppSettings, parts: AppParts): Koa<ApiState> {
  const logger = parts.logger ?? createLogger({ name: 'api' });
  const metrics = parts.metrics ?? createApiMetrics();
  const lifecycle = parts.lifecycle ?? { shuttingDown: false };
  const app = new Koa<ApiState>();
  // Behind the ingress: the client is the address the last trusted proxy appended to
  // X-Forwarded-For (counted from the right; the left part is whatever the client sent).
  app.proxy = settings.PROXY_HOPS > 0;
  app.maxIpsCount = settings.PROXY_HOPS;

  // Errors Koa sees itself (e.g. a stream that fails after the headers went out).
  app.on('error', (err: unknown, ctx?: Koa.Context) => {
    const log = (ctx?.state as ApiState | undefined)?.log ?? logger;
    log.error({ err }, 'response failed after it started');
  });

  // Every method node's HTTP parser accepts is "known": a method a route does not serve gets 405
  // with Allow (not 501, which would read as a server fault).
  const router = new Router<ApiState>({ methods: [...METHODS] });
  const search = searchRoute(router, {
    cache: parts.cache,
    cacheMaxAgeSeconds: settings.FRESHNESS_POLL_MS / 1000,
    guard: sheddingGuard(settings, parts, metrics),
  });
  probeRoutes(router, { metrics, lifecycle, freshness: parts.freshness });
  const docsHtml = docsRoutes(router, parts.openapiYaml ?? readOpenApiYaml());

  // First: the server span of a sampled request covers the whole chain.
  app.use(serverSpans());
  app.use(
    requestLayer({
      logger,
      metrics,
      lifecycle,
      accessLog: { mode: settings.ACCESS_LOG, slowMs: settings.ACCESS_LOG_SLOW_MS },
      securityHeaders: securityHeaders({ docsPath: /^\/docs\/?$/i, docsHtml }),
      maxUrlLength: settings.HTTP_MAX_URL_LENGTH,
      retryAfterSeconds: settings.RETRY_AFTER_SECONDS,
      overloadRetryAfterSeconds: settings.SHED_RETRY_AFTER_SECONDS,
    }),
  );
  if (settings.RATE_LIMIT_ENABLED) app.use(clientRateLimit(settings, router));
  app.use(search);
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
