import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import Koa from 'koa';
import request from 'supertest';
import { Registry } from 'prom-client';
import {
  requestIds,
  requestLayer,
  type AccessLogPolicy,
  type ApiState,
} from '../../../src/api/http/middleware.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createApiMetrics } from '../../../src/observability/metrics.js';

const NO_HEADERS = () => ({ set: [], remove: [] });

async function accessLines(policy: AccessLogPolicy, paths: string[]) {
  const out = new PassThrough();
  const lines: { level: string; url: string; status: number }[] = [];
  out.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
  });
  // A clock only /slow moves (by 30 ms): the policy is judged on durations, not on this machine.
  let now = 0n;
  const app = new Koa();
  const logger = createLogger({ name: 'api', level: 'debug', destination: out });
  app.use(
    requestLayer({
      logger,
      metrics: createApiMetrics(new Registry()),
      lifecycle: { shuttingDown: false },
      accessLog: policy,
      securityHeaders: NO_HEADERS,
      maxUrlLength: 1_000,
      retryAfterSeconds: 1,
      clock: () => now,
    }),
  );
  app.use(async (ctx) => {
    if (ctx.path === '/slow') now += 30_000_000n;
    ctx.status = ctx.path === '/missing' ? 404 : 200;
    ctx.body = 'x';
  });
  for (const path of paths) await request(app.callback()).get(path);
  await new Promise((r) => setImmediate(r));
  return lines.map((l) => [l.url, l.level]);
}

describe('access log policy', () => {
  it('"all" logs every request at info', async () => {
    expect(await accessLines({ mode: 'all', slowMs: 1000 }, ['/ok', '/missing'])).toEqual([
      ['/ok', 'info'],
      ['/missing', 'info'],
    ]);
  });

  it('"errors" logs failed and slow requests at info, the rest at debug', async () => {
    expect(await accessLines({ mode: 'errors', slowMs: 20 }, ['/ok', '/missing', '/slow'])).toEqual(
      [
        ['/ok', 'debug'],
        ['/missing', 'info'],
        ['/slow', 'info'],
      ],
    );
  });
});

describe('request state', () => {
  it('makes the child logger only when something logs, with the request id', async () => {
    const out = new PassThrough();
    const lines: { req_id: string; msg: string }[] = [];
    out.on('data', (chunk: Buffer) => {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
    });
    const logger = createLogger({ name: 'api', level: 'info', destination: out });
    const children: unknown[] = [];
    const child = logger.child.bind(logger);
    logger.child = ((bindings: Record<string, unknown>) => {
      children.push(bindings);
      return child(bindings);
    }) as typeof logger.child;
    const app = new Koa();
    app.use(
      requestLayer({
        logger,
        metrics: createApiMetrics(new Registry()),
        lifecycle: { shuttingDown: false },
        accessLog: { mode: 'errors', slowMs: 60_000 },
        securityHeaders: NO_HEADERS,
        maxUrlLength: 1_000,
        retryAfterSeconds: 1,
      }),
    );
    app.use((ctx) => {
      if (ctx.path === '/says') (ctx.state as ApiState).log.info('said');
      ctx.body = 'x';
    });
    await request(app.callback()).get('/quiet').set('X-Request-Id', 'quiet-1');
    await new Promise((r) => setImmediate(r));
    expect(children).toEqual([]);
    await request(app.callback()).get('/says').set('X-Request-Id', 'says-1');
    await new Promise((r) => setImmediate(r));
    expect(children).toEqual([{ req_id: 'says-1' }]);
    expect(lines.map((l) => [l.req_id, l.msg])).toEqual([['says-1', 'said']]);
  });

  it('mints distinct UUID-shaped request ids', () => {
    const mint = requestIds();
    const other = requestIds();
    const ids = Array.from({ length: 1_000 }, mint);
    expect(new Set(ids).size).toBe(1_000);
    for (const id of ids)
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // Another process (another prefix) never mints the same ids.
    expect(ids).not.toContain(other());
  });
});
