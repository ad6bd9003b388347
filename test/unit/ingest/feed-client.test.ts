import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import '../../support/promise-with-resolvers.js';
import nock from 'nock';
import { FeedError, FeedHttpError } from '../../../src/ingest/errors.js';
import {
  fetchFeed,
  parseRetryAfter,
  redactUrl,
  type FeedClientOptions,
} from '../../../src/ingest/feed-client.js';

const HOST = 'http://provider.test';
const URL_ = `${HOST}/feed`;
const SAMPLE = readFileSync(new URL('../../fixtures/response_1.xml', import.meta.url));
const XML = { 'content-type': 'application/xml; charset=utf-8' };

function options(overrides: Partial<FeedClientOptions> = {}): FeedClientOptions {
  return {
    url: URL_,
    timeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    retries: 2,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 100,
    ...overrides,
  };
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function rejection(p: Promise<unknown>): Promise<FeedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof FeedError) return err;
    throw err;
  }
  throw new Error('expected a FeedError');
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterEach(() => {
  nock.cleanAll();
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('fetchFeed', () => {
  it('streams a 2xx body through unchanged, in one attempt', async () => {
    const scope = nock(HOST)
      .get('/feed')
      .matchHeader('accept', /application\/xml/)
      .reply(200, SAMPLE, XML);
    const res = await fetchFeed(options());
    expect([res.status, res.contentType, res.attempts]).toEqual([200, XML['content-type'], 1]);
    expect((await readAll(res.body)).equals(SAMPLE)).toBe(true);
    expect(scope.isDone()).toBe(true);
  });

  it('retries 5xx and 429, then succeeds', async () => {
    const scope = nock(HOST)
      .get('/feed')
      .reply(503, 'busy')
      .get('/feed')
      .reply(429, 'slow down')
      .get('/feed')
      .reply(200, SAMPLE, XML);
    const retries: number[] = [];
    const res = await fetchFeed(
      options({ onRetry: ({ error }) => retries.push((error as FeedHttpError).status) }),
    );
    expect(res.attempts).toBe(3);
    expect(retries).toEqual([503, 429]);
    expect((await readAll(res.body)).length).toBe(SAMPLE.length);
    expect(scope.isDone()).toBe(true);
  });

  it('gives up after the retries with the last status and the number of attempts', async () => {
    nock(HOST).get('/feed').times(3).reply(500, 'boom');
    const err = await rejection(fetchFeed(options()));
    expect(err).toBeInstanceOf(FeedHttpError);
    expect(err.message).toBe(
      'the provider answered 500 Internal Server Error for http://provider.test/feed (3 attempts)',
    );
  });

  it.each([400, 401, 403, 404, 410])('does not retry a %i', async (status) => {
    const scope = nock(HOST).get('/feed').reply(status, 'nope');
    const err = await rejection(fetchFeed(options()));
    expect(err).toMatchObject({ code: 'http_status', status, retryable: false });
    expect(err.message).toMatch(
      new RegExp(
        `^the provider answered ${status} .*for http://provider.test/feed \\(1 attempt\\)$`,
      ),
    );
    expect(scope.isDone()).toBe(true);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it('waits for Retry-After (seconds) when it is longer than the backoff', async () => {
    nock(HOST)
      .get('/feed')
      .reply(503, 'later', { 'retry-after': '1' })
      .get('/feed')
      .reply(200, SAMPLE, XML);
    const started = Date.now();
    const res = await fetchFeed(options({ maxRetryDelayMs: 5_000 }));
    expect(res.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('caps a Retry-After that asks for too long', async () => {
    nock(HOST)
      .get('/feed')
      .reply(429, 'later', { 'retry-after': '3600' })
      .get('/feed')
      .reply(200, SAMPLE, XML);
    const started = Date.now();
    await fetchFeed(options({ maxRetryDelayMs: 200 }));
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(1_500);
  });

  it('retries a network error and names its cause', async () => {
    nock(HOST)
      .get('/feed')
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      .get('/feed')
      .reply(200, SAMPLE, XML);
    const res = await fetchFeed(options());
    expect(res.attempts).toBe(2);
  });

  it('names the cause of a network error it could not get past', async () => {
    nock(HOST)
      .get('/feed')
      .times(2)
      .replyWithError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    const err = await rejection(fetchFeed(options({ retries: 1 })));
    expect(err).toMatchObject({ code: 'network', retryable: true });
    expect(err.message).toBe(
      'could not fetch http://provider.test/feed: socket hang up (2 attempts)',
    );
  });

  it('times out when the headers do not come in time, and retries', async () => {
    const scope = nock(HOST)
      .get('/feed')
      .times(2)
      .reply(async () => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return [200, SAMPLE, XML];
      });
    const started = Date.now();
    const err = await rejection(fetchFeed(options({ timeoutMs: 100, retries: 1 })));
    expect(err).toMatchObject({ code: 'timeout', retryable: true });
    expect(err.message).toBe(
      'no response from http://provider.test/feed within 100 ms (2 attempts)',
    );
    expect(Date.now() - started).toBeLessThan(390);
    expect(scope.isDone()).toBe(true);
  });

  it('refuses an HTML page announced by its Content-Type, without retrying', async () => {
    const scope = nock(HOST).get('/feed').reply(200, '<html><body>Maintenance</body></html>', {
      'content-type': 'text/html; charset=utf-8',
    });
    const err = await rejection(fetchFeed(options()));
    expect(err.code).toBe('content_type');
    expect(err.message).toBe(
      'the provider answered 200 with Content-Type "text/html; charset=utf-8" (an HTML page, not the XML feed) for http://provider.test/feed (1 attempt)',
    );
    expect(scope.isDone()).toBe(true);
  });

  it('stops reading a body larger than allowed', async () => {
    nock(HOST).get('/feed').reply(200, SAMPLE, XML);
    const res = await fetchFeed(options({ maxBytes: 500 }));
    const err = await rejection(readAll(res.body));
    expect(err).toMatchObject({ code: 'too_large' });
  });

  it('sends URL credentials as Basic auth and keeps them and the query out of messages', async () => {
    const scope = nock(HOST)
      .get('/feed')
      .query({ token: 'abc' })
      .matchHeader('authorization', `Basic ${Buffer.from('user:s3cret').toString('base64')}`)
      .reply(404);
    const err = await rejection(
      fetchFeed(options({ url: 'http://user:s3cret@provider.test/feed?token=abc' })),
    );
    expect(scope.isDone()).toBe(true);
    expect(err.message).toBe(
      'the provider answered 404 Not Found for http://provider.test/feed?… (1 attempt)',
    );
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2024-05-01T12:00:00Z');
  it('reads delta-seconds and HTTP dates, capped', () => {
    expect(parseRetryAfter('5', 60_000, now)).toBe(5_000);
    expect(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', 60_000, now)).toBe(30_000);
    expect(parseRetryAfter('120', 60_000, now)).toBe(60_000);
    expect(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', 60_000, now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(null, 60_000, now)).toBeUndefined();
    expect(parseRetryAfter('soon', 60_000, now)).toBeUndefined();
    expect(parseRetryAfter('-5', 60_000, now)).toBeUndefined();
  });
});

describe('redactUrl', () => {
  it('drops credentials and the query', () => {
    expect(redactUrl('https://u:p@feed.example:8443/a/b?k=v')).toBe(
      'https://feed.example:8443/a/b?…',
    );
    expect(redactUrl('not a url')).toBe('(invalid URL)');
  });
});
