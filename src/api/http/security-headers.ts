/**
 * Security headers (koa-helmet over helmet): on every response, helmet's defaults (nosniff,
 * Referrer-Policy, HSTS, COOP/CORP, frame denial...) plus a Content-Security-Policy:
 *
 * - the API's answers (JSON, YAML, metrics) get the strictest one, `default-src 'none'`: nothing
 *   they contain may load or run anything if a browser ever renders them;
 * - `/docs` (Swagger UI) gets one that lets it work and nothing more: scripts from this origin
 *   (the assets are served locally under /docs/assets) plus the page's one inline script by its
 *   SHA-256 hash, styles from this origin and inline (Swagger UI's React components set style
 *   attributes), images from this origin and `data:`, fetches (the contract) from this origin.
 *   Remote fonts are not allowed: the page renders with local fonts, offline and without a third
 *   party learning who reads the docs.
 *
 * `upgrade-insecure-requests` is left out: TLS ends at the ingress, and the same pages are served
 * over plain HTTP locally.
 */
import { createHash } from 'node:crypto';
import helmet from 'koa-helmet';
import type { Context, Middleware, Next } from 'koa';

/** CSP hash sources (`'sha256-...'`) of the inline `<script>` elements of an HTML page. */
export function inlineScriptHashes(html: string): string[] {
  const hashes: string[] = [];
  for (const match of html.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/gi)) {
    const digest = createHash('sha256')
      .update(match[1] ?? '')
      .digest('base64');
    hashes.push(`'sha256-${digest}'`);
  }
  return hashes;
}

const common = {
  frameguard: { action: 'deny' as const },
  referrerPolicy: { policy: 'no-referrer' as const },
};

export interface SecurityHeadersOptions {
  /** The path(s) of the Swagger UI page (as the router matches it: any case, optional slash). */
  docsPath: RegExp;
  /** The page's HTML (to allow its inline script by hash). */
  docsHtml: string;
}

export function securityHeaders(opts: SecurityHeadersOptions): Middleware {
  const api = helmet({
    ...common,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'none'"],
        'base-uri': ["'none'"],
        'form-action': ["'none'"],
        'frame-ancestors': ["'none'"],
      },
    },
  });
  const docs = helmet({
    ...common,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'", ...inlineScriptHashes(opts.docsHtml)],
        'script-src-attr': ["'none'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'base-uri': ["'self'"],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
      },
    },
  });
  return (ctx: Context, next: Next) => (opts.docsPath.test(ctx.path) ? docs : api)(ctx, next);
}
