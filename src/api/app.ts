/**
 * The Koa application of the search API, built without listening (tests inject requests through
 * `app.callback()`; src/main/api.ts serves it).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { METHODS } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import { koaSwagger } from 'koa2-swagger-ui';
import { LRUCache } from 'lru-cache';
import { parseSearchWindow, type SearchWindow } from '../domain/search-window.js';
import type { Logger } from '../observability/logger.js';
import type { ApiMetrics } from '../observability/metrics.js';
import type { EventReader } from './search/event-reader.js';
import { shedWhenOverloaded, type LoadShedder } from './http/load-shedding.js';
import {
  errorEnvelope,
  httpMetrics,
  requestId,
  requestLogger,
  type AccessLogPolicy,
  urlLengthLimit,
  type ApiState,
} from './http/middleware.js';
import { rateLimit } from './http/rate-limit.js';
import type { SearchCache } from './search/search-cache.js';
import { securityHeaders } from './http/security-headers.js';

/** Shared with the process: shutdown flips `shuttingDown` so readiness fails first. */
export interface Lifecycle {
  shuttingDown: boolean;
}

export interface AppDeps {
  logger: Logger;
  metrics: ApiMetrics;
  cache: Pick<SearchCache, 'answer'>;
  reader: Pick<EventReader, 'isReady'>;
  /** IANA zone of the provider's wall-clock times (`PROVIDER_TIMEZONE`), already validated. */
  providerTimeZone: string;
  /** `max-age` of search answers: how long before this replica may have newer data. */
  cacheMaxAgeSeconds: number;
  /** `Retry-After` of a 503. */
  retryAfterSeconds: number;
  /** The contract served on `/openapi.yaml` (default: the repository's openapi.yaml). */
  openapiYaml?: string;
  lifecycle?: Lifecycle;
  /** Refreshes the data-age gauge before a scrape. */
  freshness?: { updateAge(): void };
  /** Per-client rate limiting (RATE_LIMIT_*); absent: none. */
  rateLimit?: { max: number; windowMs: number };
  /** Load shedding of /search when the event loop lags (SHED_*); absent: none. */
  shedder?: Pick<LoadShedder, 'overloaded' | 'lagMs'>;
  /** `Retry-After` of a shed request (default 1). */
  shedRetryAfterSeconds?: number;
  /** Which requests get an access-log line at info (default: all). */
  accessLog?: AccessLogPolicy;
  /** Longest request URL accepted, else 414 (default 2048). */
  maxUrlLength?: number;
  /**
   * Reverse proxies in front of the API that append to X-Forwarded-For (default 1, the ingress);
   * 0 reads the client's address from the socket.
   */
  proxyHops?: number;
}

/** openapi.yaml at the package root (from src/api or dist/api alike). */
export function readOpenApiYaml(): string {
  return readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8');
}

function swaggerUiAssets() {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('swagger-ui-dist/package.json');
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  const dir = pkgPath.slice(0, -'package.json'.length);
  // The names koa2-swagger-ui's page asks for, mapped to the files swagger-ui-dist ships.
  const files: Record<string, { name: string; type: string }> = {
    'swagger-ui.min.css': { name: 'swagger-ui.css', type: 'text/css' },
    'swagger-ui-bundle.js': { name: 'swagger-ui-bundle.js', type: 'application/javascript' },
    'swagger-ui-standalone-preset.js': {
      name: 'swagger-ui-standalone-preset.js',
      type: 'application/javascript',
    },
  };
  return { version, dir, files };
}

/** The Swagger UI page koa2-swagger-ui renders (the same every time; rendered once). */
function renderDocsPage(swagger: (ctx: Koa.Context, next: Koa.Next) => unknown): string {
  const ctx = { path: '/docs', type: '', body: undefined as unknown } as unknown as Koa.Context;
  void swagger(ctx, () => Promise.resolve());
  if (typeof ctx.body !== 'string') throw new Error('koa2-swagger-ui rendered no page');
  // The page links Google Fonts; the docs use local fonts (offline, no third party; see the CSP).
  return ctx.body.replace(/<link[^>]*\/\/fonts\.googleapis\.com[^>]*>\s*/g, '');
}

/** Distinct query strings whose parsed window is kept (see `windowOf`). */
const WINDOW_MEMO_ENTRIES = 10_000;

export function createApp(deps: AppDeps): Koa<ApiState> {
  const app = new Koa<ApiState>();
  // Behind the ingress: the client is the address the last trusted proxy appended to
  // X-Forwarded-For (counted from the right; the left part is whatever the client sent).
  const proxyHops = deps.proxyHops ?? 1;
  app.proxy = proxyHops > 0;
  app.maxIpsCount = proxyHops;
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const openapiYaml = deps.openapiYaml ?? readOpenApiYaml();
  const maxAge = Math.max(0, Math.ceil(deps.cacheMaxAgeSeconds));

  // Errors Koa sees itself (e.g. a stream that fails after the headers went out).
  app.on('error', (err: unknown, ctx?: Koa.Context) => {
    const log = (ctx?.state as ApiState | undefined)?.log ?? deps.logger;
    log.error({ err }, 'response failed after it started');
  });

  // Every method node's HTTP parser accepts is "known": a method a route does not serve gets 405
  // with Allow (not 501, which would read as a server fault).
  const router = new Router<ApiState>({ methods: [...METHODS] });

  const shed = deps.shedder
    ? shedWhenOverloaded(deps.shedder, {
        retryAfterSeconds: deps.shedRetryAfterSeconds ?? 1,
        onShed: (ctx) => {
          deps.metrics.shed.inc();
          // Debug only: the request line (status 503) and the counter say it already, and a line
          // per refused request would add load exactly when there is too much.
          (ctx.state as ApiState).log.debug(
            { lag_ms: Math.round(deps.shedder?.lagMs ?? 0) },
            'shed: the event loop lags',
          );
        },
      })
    : (_ctx: Koa.Context, next: Koa.Next) => next();

  // Parsing a window (time-zone conversion) costs more than answering it from the cache: popular
  // query strings are parsed once (least recently used out first).
  const windows = new LRUCache<string, SearchWindow>({ max: WINDOW_MEMO_ENTRIES });
  const windowOf = (ctx: Koa.Context): SearchWindow => {
    const raw = ctx.querystring;
    let window = windows.get(raw);
    if (!window) {
      window = parseSearchWindow(ctx.query, deps.providerTimeZone);
      windows.set(raw, window);
    }
    return window;
  };

  // One route function (shedding inside it), so tracing shows one route span, not one per layer.
  router.get('search', '/search', (ctx, next) => shed(ctx, () => search(ctx, next)));
  const search = async (ctx: Koa.ParameterizedContext<ApiState>, _next: Koa.Next) => {
    const window = windowOf(ctx);
    const answer = await deps.cache.answer(window);
    ctx.state.cache = answer.source;
    ctx.set('X-Cache', answer.source);
    ctx.set('Cache-Control', `public, max-age=${maxAge}`);
    ctx.status = 200;
    ctx.type = 'application/json';
    if (answer.kind === 'stream') {
      // HEAD never reads the body: release the query at once.
      if (ctx.method === 'HEAD') answer.stream.destroy();
      else ctx.body = answer.stream;
      return;
    }
    ctx.etag = answer.etag;
    if (ctx.fresh) {
      ctx.status = 304;
      return;
    }
    ctx.body = answer.body;
  };

  router.get('healthz', '/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('readyz', '/readyz', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    if (lifecycle.shuttingDown) {
      ctx.status = 503;
      ctx.body = { status: 'shutting_down' };
      return;
    }
    let ready = false;
    let reason = 'the events alias does not exist';
    try {
      ready = await deps.reader.isReady();
      deps.metrics.esUp.set(1);
    } catch (err) {
      deps.metrics.esUp.set(0);
      ctx.state.log.warn({ err }, 'readiness: Elasticsearch does not answer');
      reason = 'Elasticsearch does not answer';
    }
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready' } : { status: 'not_ready', reason };
  });

  router.get('metrics', '/metrics', async (ctx) => {
    deps.freshness?.updateAge();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  router.get('openapi', '/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = openapiYaml;
  });

  // Swagger UI's assets come from the installed swagger-ui-dist, not a CDN: the page works offline
  // and behind a strict egress policy.
  const swaggerUi = swaggerUiAssets();
  const docsHtml = renderDocsPage(
    koaSwagger({
      routePrefix: false,
      title: 'event-search API',
      hideTopbar: true,
      swaggerCdnUrl: '/docs/assets',
      swaggerVersion: swaggerUi.version,
      swaggerOptions: { url: '/openapi.yaml' },
    }),
  );
  router.get('docs', '/docs', (ctx) => {
    ctx.type = 'text/html';
    ctx.body = docsHtml;
  });
  router.get('docs-assets', '/docs/assets/:version/:file', (ctx) => {
    const asset = swaggerUi.files[ctx.params.file ?? ''];
    if (ctx.params.version !== swaggerUi.version || !asset) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=86400, immutable');
    ctx.body = createReadStream(join(swaggerUi.dir, asset.name));
  });

  app.use(async (ctx, next) => {
    // While draining, ask every client to close its connection after this response.
    if (lifecycle.shuttingDown) ctx.set('Connection', 'close');
    await next();
  });
  app.use(requestId());
  app.use(requestLogger(deps.logger, deps.accessLog));
  app.use(httpMetrics(deps.metrics));
  app.use(securityHeaders({ docsPath: /^\/docs\/?$/i, docsHtml }));
  app.use(errorEnvelope({ retryAfterSeconds: deps.retryAfterSeconds }));
  app.use(urlLengthLimit(deps.maxUrlLength ?? 2_048));
  if (deps.rateLimit) {
    app.use(
      rateLimit({
        ...deps.rateLimit,
        onLimited: (ctx) => {
          // Label the request with the route it asked for (the router does not run for it).
          const layer = router.match(ctx.path, ctx.method).pathAndMethod.at(-1);
          if (layer) (ctx as { _matchedRoute?: string | RegExp })._matchedRoute = layer.path;
          (ctx.state as ApiState).log.debug({ client: ctx.ip }, 'rate limited');
        },
      }),
    );
  }
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
