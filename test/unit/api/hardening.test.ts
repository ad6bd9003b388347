/**
 * Security headers, the URL length bound and error bodies, over the real app with a stub store
 * (the store does not matter here; test/integration/api/hostile-input.test.ts uses the real one).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import supertest from 'supertest';
import { answeringNoEvents, appWith } from '../../support/app.js';
import type { SearchAnswer } from '../../../src/api/search/search-cache.js';
import { createServer, type RequestListener } from 'node:http';
import helmet from 'helmet';
import {
  applyHeaders,
  helmetHeaders,
  inlineScriptHashes,
} from '../../../src/api/http/security-headers.js';
import { expectContract } from '../../support/openapi.js';

function app(answer: () => Promise<SearchAnswer>, warmed = true) {
  const koa = appWith(
    { HTTP_MAX_URL_LENGTH: '200', RATE_LIMIT_ENABLED: 'false' },
    {
      cache: { answer },
      freshness: { warmed, updateAge: () => undefined },
    },
  );
  return supertest(koa.callback());
}

/** An error whose message and stack carry internals that must never reach a client. */
function internalError(): Error {
  const err = new Error('connect ECONNREFUSED 10.1.2.3:9200 at /srv/app/secret.js user=elastic');
  err.stack = `${err.message}\n    at Object.<anonymous> (/srv/app/dist/store/event-reader.js:42:7)`;
  return err;
}

const INTERNALS = /secret|10\.1\.2\.3|event-reader|\.js:|at Object|user=|changeme|stack/i;

describe('security headers', () => {
  const http = app(async () => {
    throw internalError();
  });

  it('puts helmet headers and a deny-all CSP on API answers', async () => {
    for (const path of ['/search', '/healthz', '/openapi.yaml', '/nope']) {
      const res = await http.get(path);
      expect(res.headers['content-security-policy']).toBe(
        "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
      );
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('lets /docs run its own inline script (by hash) and local assets only', async () => {
    for (const alias of ['/docs/', '/DOCS']) {
      const page = await http.get(alias);
      expect([page.status, page.headers['content-security-policy']]).toEqual([
        200,
        expect.stringContaining("script-src 'self' 'sha256-"),
      ]);
    }
    const res = await http.get('/docs');
    expect(res.status).toBe(200);
    const csp = String(res.headers['content-security-policy']);
    const inline = /<script>([\s\S]*?)<\/script>/.exec(res.text)?.[1] ?? '';
    expect(inline).toContain('SwaggerUIBundle');
    const hash = createHash('sha256').update(inline).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("style-src 'self' 'unsafe-inline'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-eval|https:|upgrade-insecure-requests/);
    // Swagger UI's assets are served from this origin; nothing is loaded from elsewhere.
    expect(res.text).toMatch(/src="\/docs\/assets\/[^"]+\/swagger-ui-bundle\.js"/);
    expect(res.text).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('gives a cached answer, written at once, the headers of the answer Koa writes', async () => {
    const lifecycle = { shuttingDown: false };
    const koa = appWith(
      { RATE_LIMIT_ENABLED: 'false' },
      {
        cache: answeringNoEvents('hit'),
        lifecycle,
        freshness: { warmed: true, updateAge: () => undefined },
      },
    );
    const http = supertest(koa.callback());
    const url = '/search?starts_at=2021-01-01T00:00:00Z';
    const withoutIds = (headers: Record<string, string>) =>
      Object.fromEntries(
        Object.entries(headers).filter(([name]) => !/^(date|x-request-id)$/.test(name)),
      );
    // A plain GET is answered at once (answerAtOnce); a GET with a validator that does not match
    // goes through Koa's response.
    const atOnce = await http.get(url);
    const throughKoa = await http.get(url).set('If-None-Match', '"another"');
    expect([atOnce.status, throughKoa.status]).toEqual([200, 200]);
    expect(atOnce.text).toBe(throughKoa.text);
    expect(withoutIds(atOnce.headers)).toEqual(withoutIds(throughKoa.headers));
    expect(atOnce.headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(atOnce.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(atOnce.headers['x-request-id']).not.toBe(throughKoa.headers['x-request-id']);
    expect(atOnce.headers['content-length']).toBe(String(Buffer.byteLength(atOnce.text)));
    // A sane caller's id is echoed; a draining process asks its clients to close.
    lifecycle.shuttingDown = true;
    const draining = await http.get(url).set('X-Request-Id', 'caller-1');
    expect([draining.headers['x-request-id'], draining.headers.connection]).toEqual([
      'caller-1',
      'close',
    ]);
  });

  it('precomputes exactly the headers helmet puts on a response', async () => {
    const options = {
      frameguard: { action: 'deny' as const },
      contentSecurityPolicy: { useDefaults: false, directives: { 'default-src': ["'none'"] } },
    };
    const headersOf = async (handler: RequestListener) => {
      const server = createServer(handler);
      try {
        const res = await supertest(server).get('/');
        return Object.fromEntries(
          Object.entries(res.headers).filter(
            ([name]) => !/^(date|connection|keep-alive)$/.test(name),
          ),
        );
      } finally {
        server.close();
      }
    };
    const recorded = helmetHeaders(options);
    const live = await headersOf((req, res) => {
      res.setHeader('X-Powered-By', 'something');
      helmet(options)(req, res, () => res.end('x'));
    });
    const precomputed = await headersOf((_req, res) => {
      res.setHeader('X-Powered-By', 'something');
      applyHeaders(res, recorded);
      res.end('x');
    });
    expect(precomputed).toEqual(live);
    expect(live['x-frame-options']).toBe('DENY');
    expect(live['x-powered-by']).toBeUndefined();
  });

  it('hashes inline scripts only', () => {
    const html =
      '<script src="/a.js"></script><script>alert(1)</script><SCRIPT type="x">b</SCRIPT>';
    const sha = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
    expect(inlineScriptHashes(html)).toEqual([sha('alert(1)'), sha('b')]);
  });
});

describe('error bodies', () => {
  it('never carry a message, stack or address from an unexpected error', async () => {
    const http = app(async () => {
      throw internalError();
    });
    const res = expectContract('/search', await http.get('/search'));
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      error: { code: 'internal_error', message: 'Internal server error' },
      data: null,
    });
    expect(res.text).not.toMatch(INTERNALS);
    expect(res.headers['etag']).toBeUndefined();
  });

  it('nor does readiness before the data version is read (the store is not asked)', async () => {
    const http = app(async () => {
      throw internalError();
    }, false);
    const res = expectContract('/readyz', await http.get('/readyz'));
    expect(res.status).toBe(503);
    expect(res.body).toEqual({
      status: 'not_ready',
      reason: 'the data version has not been read yet',
    });
    expect(res.text).not.toMatch(INTERNALS);
  });

  it('nor does a non-Error thrown value', async () => {
    const http = app(() => Promise.reject({ secret: 'elastic:changeme' }));
    const res = await http.get('/search');
    expect(res.status).toBe(500);
    expect(res.text).not.toMatch(INTERNALS);
  });
});

describe('the URL length bound', () => {
  const http = app(async () => {
    throw new Error('the store must not be asked');
  });

  it('answers 414 `uri_too_long` before parsing the query', async () => {
    const res = expectContract('/search', await http.get(`/search?starts_at=${'9'.repeat(300)}`));
    expect(res.status).toBe(414);
    expect(res.body).toEqual({
      error: { code: 'uri_too_long', message: expect.stringMatching(/at most 200/) },
      data: null,
    });
  });

  it('lets a URL of exactly the bound through', async () => {
    const path = '/search?x=';
    const res = await http.get(`${path}${'a'.repeat(200 - path.length)}`);
    expect(res.status).toBe(500); // reached the (failing) store: not refused for its length
  });
});
