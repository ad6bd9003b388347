import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import Koa from 'koa';
import request from 'supertest';
import {
  requestId,
  requestLogger,
  type AccessLogPolicy,
} from '../../../src/api/http/middleware.js';
import { createLogger } from '../../../src/observability/logger.js';

async function accessLines(policy: AccessLogPolicy, paths: string[]) {
  const out = new PassThrough();
  const lines: { level: string; url: string; status: number }[] = [];
  out.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
  });
  // A clock only /slow moves (by 30 ms): the policy is judged on durations, not on this machine.
  let now = 0n;
  const app = new Koa();
  app.use(requestId());
  const logger = createLogger({ name: 'api', level: 'debug', destination: out });
  app.use(requestLogger(logger, policy, () => now));
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
