import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import Koa from 'koa';
import { Registry } from 'prom-client';
import supertest from 'supertest';
import { answeringNoEvents, appWith } from '../../support/app.js';
import { rateLimit } from '../../../src/api/http/rate-limit.js';
import { createApiMetrics } from '../../../src/observability/metrics.js';
import { expectContract } from '../../support/openapi.js';

function app(opts: { max: number; windowMs: number; proxyHops?: number }) {
  const metrics = createApiMetrics(new Registry());
  const koa = appWith(
    {
      RATE_LIMIT_MAX: String(opts.max),
      RATE_LIMIT_WINDOW_MS: String(opts.windowMs),
      PROXY_HOPS: String(opts.proxyHops ?? 1),
    },
    {
      metrics,
      cache: answeringNoEvents('hit'),
    },
  );
  return { http: supertest(koa.callback()), metrics };
}

describe('per-client rate limiting', () => {
  it('answers 429 in the envelope with Retry-After once a client spends its budget', async () => {
    const a = app({ max: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) {
      expect((await a.http.get('/search')).status).toBe(200);
    }
    const limited = expectContract('/search', await a.http.get('/search'));
    expect(limited.status).toBe(429);
    expect(limited.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/at most 3 per 60 s/) },
      data: null,
    });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(59);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers['cache-control']).toBe('no-store');
    // Counted under the route the client asked for.
    const metrics = (await a.http.get('/metrics')).text;
    expect(metrics).toMatch(
      /event_search_http_requests_total\{method="GET",route="\/search",status="429"\} 1/,
    );
  });

  it('limits every route but the probes and /metrics', async () => {
    const a = app({ max: 1, windowMs: 60_000 });
    expect((await a.http.get('/openapi.yaml')).status).toBe(200);
    const docs = expectContract('/docs', await a.http.get('/docs'));
    expect(docs.status).toBe(429);
    for (let i = 0; i < 5; i++) {
      expect((await a.http.get('/healthz')).status).toBe(200);
      expect((await a.http.get('/readyz')).status).toBe(200);
      expect((await a.http.get('/metrics')).status).toBe(200);
    }
  });

  it('counts each client apart, by the address the trusted proxy appended', async () => {
    const a = app({ max: 2, windowMs: 60_000, proxyHops: 1 });
    const as = (xff: string) => a.http.get('/search').set('X-Forwarded-For', xff);
    expect((await as('10.0.0.1')).status).toBe(200);
    expect((await as('10.0.0.1')).status).toBe(200);
    expect((await as('10.0.0.1')).status).toBe(429);
    // Another client is not affected.
    expect((await as('10.0.0.2')).status).toBe(200);
    // A client cannot escape by writing its own X-Forwarded-For: the ingress appends the real
    // address, and that rightmost entry is the one counted.
    expect((await as('1.2.3.4, 10.0.0.1')).status).toBe(429);
    expect((await as('5.6.7.8, 10.0.0.1')).status).toBe(429);
  });

  it('ignores X-Forwarded-For when no proxy is trusted (PROXY_HOPS=0)', async () => {
    const a = app({ max: 1, windowMs: 60_000, proxyHops: 0 });
    expect((await a.http.get('/search').set('X-Forwarded-For', '10.0.0.1')).status).toBe(200);
    expect((await a.http.get('/search').set('X-Forwarded-For', '10.0.0.2')).status).toBe(429);
  });

  it('gives the budget back when the window ends', async () => {
    const a = app({ max: 1, windowMs: 1_000 });
    expect((await a.http.get('/search')).status).toBe(200);
    const limited = await a.http.get('/search');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    await sleep(1_100);
    expect((await a.http.get('/search')).status).toBe(200);
  });
});

describe('rateLimit() store', () => {
  it('tracks at most maxClients clients, and forgets them when their window ends', async () => {
    const koa = new Koa();
    koa.proxy = true;
    koa.maxIpsCount = 1;
    const limiter = rateLimit({ max: 1, windowMs: 1_000, maxClients: 50 });
    koa.use(limiter);
    koa.use((ctx) => {
      ctx.body = 'ok';
    });
    const http = supertest(koa.callback());
    const as = (ip: string) => http.get('/').set('X-Forwarded-For', ip);
    for (let i = 0; i < 120; i++) await as(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.clients.size).toBeLessThanOrEqual(50);
    expect(limiter.clients.has('10.0.0.119')).toBe(true); // the newest clients are kept
    // A client pushed out lost its counter with it: it has its budget again.
    expect(limiter.clients.has('10.0.0.0')).toBe(false);
    expect((await as('10.0.0.0')).status).toBe(200);
    // The newest one still has its counter.
    expect((await as('10.0.0.119')).status).toBe(429);
    await sleep(1_100);
    limiter.clients.purgeStale();
    expect(limiter.clients.size).toBe(0);
  });
});
