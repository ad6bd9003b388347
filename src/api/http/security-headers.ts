/**
 * Security headers (helmet): on every response, helmet's defaults (nosniff,
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
 *
 * Every one of these headers is the same on every response of its kind, so helmet runs once per
 * kind, when the app is built, against a recorder: each response then gets the recorded set
 * (`applyHeaders`), without helmet's chain of a dozen callbacks per request
 * (docs/adr/0017-search-hot-and-cold-paths.md).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

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

/** Headers to set on a response, and headers to take off it. */
export interface HeaderSet {
  readonly set: readonly (readonly [string, string])[];
  readonly remove: readonly string[];
}

/**
 * What helmet does to a response with `options`, recorded once. Throws if helmet does not finish
 * synchronously or fails (it would then depend on the request, and could not be recorded).
 */
export function helmetHeaders(options: HelmetOptions): HeaderSet {
  const set = new Map<string, string>();
  const remove: string[] = [];
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      set.set(name, String(value));
      return recorder;
    },
    removeHeader(name: string) {
      set.delete(name);
      remove.push(name);
    },
  };
  let finished = false;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error(String(err));
    finished = true;
  });
  if (!finished)
    throw new Error('helmet did not finish synchronously: its headers cannot be precomputed');
  return { set: [...set], remove };
}

/** Puts a recorded header set on a response. */
export function applyHeaders(res: ServerResponse, headers: HeaderSet): void {
  for (const name of headers.remove) res.removeHeader(name);
  for (const [name, value] of headers.set) res.setHeader(name, value);
}

export interface SecurityHeadersOptions {
  /** The path(s) of the Swagger UI page (as the router matches it: any case, optional slash). */
  docsPath: RegExp;
  /** The page's HTML (to allow its inline script by hash). */
  docsHtml: string;
}

/** The header set of a request's path: the docs page's, or the strict one of every other answer. */
export function securityHeaders(opts: SecurityHeadersOptions): (path: string) => HeaderSet {
  const api = helmetHeaders({
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
  const docs = helmetHeaders({
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
  return (path) => (opts.docsPath.test(path) ? docs : api);
}
