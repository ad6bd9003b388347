/**
 * The Koa application of the search API, built without listening (tests inject requests through
 * `app.callback()`; src/main/api.ts serves it).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Koa from 'koa';
import Router from '@koa/router';
import { koaSwagger } from 'koa2-swagger-ui';
import { parseSearchWindow } from '../domain/search-window.js';
import type { Logger } from '../observability/logger.js';
import type { ApiMetrics } from '../observability/metrics.js';
import type { EventReader } from '../store/event-reader.js';
import {
  errorEnvelope,
  httpMetrics,
  requestId,
  requestLogger,
  type ApiState,
} from './middleware.js';
import type { SearchCache } from './search-cache.js';

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

export function createApp(deps: AppDeps): Koa<ApiState> {
  const app = new Koa<ApiState>();
  app.proxy = true;
  const lifecycle = deps.lifecycle ?? { shuttingDown: false };
  const openapiYaml = deps.openapiYaml ?? readOpenApiYaml();
  const maxAge = Math.max(0, Math.ceil(deps.cacheMaxAgeSeconds));

  // Errors Koa sees itself (e.g. a stream that fails after the headers went out).
  app.on('error', (err: unknown, ctx?: Koa.Context) => {
    const log = (ctx?.state as ApiState | undefined)?.log ?? deps.logger;
    log.error({ err }, 'response failed after it started');
  });

  const router = new Router<ApiState>();

  router.get('search', '/search', async (ctx) => {
    const window = parseSearchWindow(ctx.query, deps.providerTimeZone);
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
  });

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
  const swagger = koaSwagger({
    routePrefix: false,
    title: 'event-search API',
    hideTopbar: true,
    swaggerCdnUrl: '/docs/assets',
    swaggerVersion: swaggerUi.version,
    swaggerOptions: { url: '/openapi.yaml' },
  });
  router.get('docs', '/docs', swagger);
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
  app.use(requestLogger(deps.logger));
  app.use(httpMetrics(deps.metrics));
  app.use(errorEnvelope({ retryAfterSeconds: deps.retryAfterSeconds }));
  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
