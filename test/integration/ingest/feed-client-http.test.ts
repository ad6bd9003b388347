/**
 * The feed client against a real local HTTP server, for what nock cannot reproduce faithfully with
 * fetch: a body that stalls or breaks mid-way, a refused connection, a cancelled request.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FeedError } from '../../../src/ingest/errors.js';
import { fetchFeed, type FeedClientOptions } from '../../../src/ingest/feed-client.js';

const SAMPLE = readFileSync(new URL('../../fixtures/response_1.xml', import.meta.url));
let server: Server;
let base: string;
const open = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    if (req.url === '/stall') {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write(SAMPLE.subarray(0, 100)); // then nothing, ever
    } else if (req.url === '/pieces') {
      // Three pieces 30 ms apart, so a consumer sees them as separate chunks.
      res.writeHead(200, { 'content-type': 'application/xml' });
      const third = Math.ceil(SAMPLE.length / 3);
      res.write(SAMPLE.subarray(0, third));
      setTimeout(() => res.write(SAMPLE.subarray(third, 2 * third)), 30);
      setTimeout(() => res.end(SAMPLE.subarray(2 * third)), 60);
    } else if (req.url === '/break') {
      res.writeHead(200, { 'content-type': 'application/xml', 'content-length': SAMPLE.length });
      res.write(SAMPLE.subarray(0, 200), () => setTimeout(() => res.destroy(), 20));
    } else if (req.url === '/hang') {
      // never answers
    } else {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(SAMPLE);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const res of open) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function options(path: string, overrides: Partial<FeedClientOptions> = {}): FeedClientOptions {
  return {
    url: `${base}${path}`,
    timeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    retries: 0,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 100,
    ...overrides,
  };
}

async function failure(p: Promise<unknown>): Promise<FeedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error('expected a FeedError');
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const c of body) n += c.byteLength;
  return n;
}

describe('fetchFeed over real HTTP', () => {
  it('reads a body to its end', async () => {
    const res = await fetchFeed(options('/ok'));
    expect(await drain(res.body)).toBe(SAMPLE.length);
  });

  it('fails a body that stalls longer than the idle timeout', async () => {
    const res = await fetchFeed(options('/stall', { idleTimeoutMs: 200 }));
    const err = await failure(drain(res.body));
    expect(err.code).toBe('idle_timeout');
    expect(err.message).toBe(
      `the body of ${base}/stall stalled: nothing received for 200 ms after 100 bytes`,
    );
  });

  it('does not count the time the consumer spends on a chunk as a stall', async () => {
    const res = await fetchFeed(options('/pieces', { idleTimeoutMs: 500 }));
    let n = 0;
    let chunks = 0;
    for await (const chunk of res.body) {
      n += chunk.byteLength;
      chunks++;
      // Longer than the idle timeout, between reads.
      await new Promise((resolve) => setTimeout(resolve, 600));
    }
    expect(n).toBe(SAMPLE.length);
    expect(chunks).toBeGreaterThan(1);
  });

  it('still fails a stall that follows a slow consumer', async () => {
    const res = await fetchFeed(options('/stall', { idleTimeoutMs: 200 }));
    const err = await failure(
      (async () => {
        for await (const chunk of res.body) {
          expect(chunk.byteLength).toBe(100);
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
      })(),
    );
    expect(err.code).toBe('idle_timeout');
    expect(err.message).toBe(
      `the body of ${base}/stall stalled: nothing received for 200 ms after 100 bytes`,
    );
  });

  it('fails a body whose connection breaks mid-way', async () => {
    const res = await fetchFeed(options('/break'));
    const err = await failure(drain(res.body));
    expect(err.code).toBe('network');
    expect(err.message).toMatch(
      new RegExp(`^the connection to ${base}/break broke after 200 bytes of the body: `),
    );
  });

  it('times out when no headers come', async () => {
    const err = await failure(fetchFeed(options('/hang', { timeoutMs: 150, retries: 1 })));
    expect(err.code).toBe('timeout');
    expect(err.message).toBe(`no response from ${base}/hang within 150 ms (2 attempts)`);
  });

  it('reports a refused connection precisely, after its retries', async () => {
    const tcp = createTcpServer();
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const { port } = tcp.address() as { port: number };
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    const err = await failure(
      fetchFeed({ ...options('/feed', { retries: 2 }), url: `http://127.0.0.1:${port}/feed` }),
    );
    expect(err.code).toBe('network');
    expect(err.message).toBe(
      `could not fetch http://127.0.0.1:${port}/feed: connect ECONNREFUSED 127.0.0.1:${port} (3 attempts)`,
    );
  });

  it('stops at once when cancelled', async () => {
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('received SIGTERM')), 50);
    const retries: number[] = [];
    const err = await failure(
      fetchFeed(
        options('/hang', {
          retries: 3,
          signal: cancel.signal,
          onRetry: ({ attempt }) => retries.push(attempt),
        }),
      ),
    );
    // Cancelled, not timed out (2 s) and retried: the first attempt was the only one.
    expect(err.code).toBe('aborted');
    expect(retries).toEqual([]);
  });
});
