/**
 * The contract and its documentation page: `/openapi.yaml`, and Swagger UI on `/docs` rendered
 * once by koa2-swagger-ui with its assets served from the installed swagger-ui-dist (not a CDN):
 * the page works offline and behind a strict egress policy.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type Koa from 'koa';
import type Router from '@koa/router';
import { koaSwagger } from 'koa2-swagger-ui';
import type { ApiState } from './http/middleware.js';

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

/** The docs page's HTML (the security headers hash its inline script). */
export function docsPageHtml(version: string): string {
  return renderDocsPage(
    koaSwagger({
      routePrefix: false,
      title: 'event-search API',
      hideTopbar: true,
      swaggerCdnUrl: '/docs/assets',
      swaggerVersion: version,
      swaggerOptions: { url: '/openapi.yaml' },
    }),
  );
}

/** `/openapi.yaml`, `/docs` and `/docs/assets/...` on `router`; returns the page's HTML. */
export function docsRoutes(router: Router<ApiState>, openapiYaml: string): string {
  router.get('openapi', '/openapi.yaml', (ctx) => {
    ctx.type = 'application/yaml';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = openapiYaml;
  });
  const swaggerUi = swaggerUiAssets();
  const docsHtml = docsPageHtml(swaggerUi.version);
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
  return docsHtml;
}
