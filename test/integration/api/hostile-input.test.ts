/**
 * Hostile and odd input against the API as production builds it (security headers, URL bound,
 * rate limiting on), over the real Elasticsearch seeded with the samples, through a real socket so
 * the bytes arrive exactly as written. Every answer is checked against openapi.yaml: /search
 * answers against the operation, the others (405s, 404s) against the error envelope's schema.
 */
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { portOf } from '../../../src/api/http/server.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { contract, expectContract } from '../../support/openapi.js';
import { SAMPLE_SUMMARIES, SAMPLE_RAWS, seedEvents, seedRun } from '../../support/seed.js';
import { buildApi } from './api-fixture.js';
import { rawGet, rawRequest, type RawResponse } from './raw-http.js';

const env = testStoreEnv('api-hostile');
const client = testClient(env);
let names: IndexNames;
let server: Server;
let port: number;

beforeAll(async () => {
  names = await seedEvents(client, env.ES_INDEX_PREFIX, [...SAMPLE_RAWS]);
  await seedRun(client, names);
  const api = buildApi({
    names,
    env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX: '100000', HTTP_MAX_URL_LENGTH: '2048' },
  });
  server = await api.start();
  port = portOf(server);
});

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

const WINDOW = 'starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';
const ALL = { data: { events: SAMPLE_SUMMARIES }, error: null };

async function search(target: string): Promise<RawResponse> {
  return expectContract('/search', await rawGet(port, target));
}

function expectEnvelope(res: RawResponse, status: number, code: string | RegExp): void {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const validate = contract().schemaAt('#/components/schemas/ErrorEnvelope');
  expect(validate(res.body)).toBe(true);
  expect((res.body as { error: { code: string } }).error.code).toMatch(code);
  // Nothing internal, whatever went wrong.
  expect(res.text).not.toMatch(/\bat .+:\d+:\d+|node_modules|\/src\/|\/dist\/|Error:/);
}

describe('query strings', () => {
  it('answers a well-formed window (the baseline the rest is compared with)', async () => {
    const res = await search(`/search?${WINDOW}`);
    expect([res.status, res.body]).toEqual([200, ALL]);
  });

  it('refuses a URL longer than the bound with 414, before parsing it', async () => {
    const res = await search(`/search?${WINDOW}&pad=${'x'.repeat(2_100)}`);
    expectEnvelope(res, 414, 'uri_too_long');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('refuses a request line plus headers above the server limit with 431, and closes', async () => {
    const res = await rawGet(port, `/search?pad=${'x'.repeat(20_000)}`);
    expectEnvelope(res, 431, 'headers_too_large');
    expect(res.closed).toBe(true);
  });

  it('refuses repeated bounds with 400 and the parameter code', async () => {
    const twice = await search(
      '/search?starts_at=2021-02-01T00:00:00Z&starts_at=2021-03-01T00:00:00Z',
    );
    expectEnvelope(twice, 400, 'invalid_starts_at');
    expect(twice.body).toMatchObject({ error: { message: expect.stringMatching(/2 times/) } });
    const ends = await search(`/search?${WINDOW}&ends_at=2022-07-03T00:00:00Z`);
    expectEnvelope(ends, 400, 'invalid_ends_at');
  });

  it.each([
    ['a NUL byte', 'starts_at=2021-02-01T00:00:00Z%00', 'invalid_starts_at'],
    ['a NUL byte alone', 'ends_at=%00', 'invalid_ends_at'],
    ['an invalid percent-encoding', 'starts_at=%E0%A4%A', 'invalid_starts_at'],
    ['a percent sign with no hex', 'starts_at=2021-02-01T00:00:00%ZZ', 'invalid_starts_at'],
    ['an overlong UTF-8 sequence', 'starts_at=%C0%AE%C0%AE', 'invalid_starts_at'],
    [
      'full-width digits',
      `starts_at=${encodeURIComponent('２０２１-02-01T00:00:00Z')}`,
      'invalid_starts_at',
    ],
    [
      'Arabic-Indic digits',
      `ends_at=${encodeURIComponent('٢٠٢١-02-01T00:00:00Z')}`,
      'invalid_ends_at',
    ],
    [
      'an overlong value',
      `starts_at=2021-02-01T00:00:00${'0'.repeat(1_800)}Z`,
      'invalid_starts_at',
    ],
    ['an impossible date', 'starts_at=2021-02-30T00:00:00Z', 'invalid_starts_at'],
    ['a year beyond the date range', 'ends_at=%2B275760-09-14T00:00:00Z', 'invalid_ends_at'],
    ['an offset beyond 23:59', 'starts_at=2021-02-01T00:00:00%2B24:00', 'invalid_starts_at'],
    ['script in the value', 'starts_at=%3Cscript%3Ealert(1)%3C/script%3E', 'invalid_starts_at'],
    ['an empty value', 'ends_at=', 'invalid_ends_at'],
    [
      'a reversed window',
      'starts_at=2022-01-01T00:00:00Z&ends_at=2021-01-01T00:00:00Z',
      'invalid_range',
    ],
  ])('refuses %s with 400 and its code', async (_what, query, code) => {
    const res = await search(`/search?${query}`);
    expectEnvelope(res, 400, code);
  });

  it('explains an unencoded "+" (read as a space) and accepts it encoded as %2B', async () => {
    const plus = await search('/search?starts_at=2021-02-01T01:00:00+01:00');
    expectEnvelope(plus, 400, 'invalid_starts_at');
    expect(plus.body).toMatchObject({ error: { message: expect.stringMatching(/%2B/) } });
    const encoded = await search(
      '/search?starts_at=2021-02-01T01:00:00%2B01:00&ends_at=2022-07-03T02:00:00%2B02:00',
    );
    expect([encoded.status, encoded.body]).toEqual([200, ALL]);
  });

  it('reads percent-encoded bounds like plain ones', async () => {
    const res = await search(
      `/search?starts_at=${encodeURIComponent('2021-02-01T00:00:00Z')}&ends_at=2022-07-03T00%3A00%3A00Z`,
    );
    expect([res.status, res.body]).toEqual([200, ALL]);
  });

  it('ignores unknown parameters (the same answer and ETag as without them)', async () => {
    const plain = await search(`/search?${WINDOW}`);
    for (const extra of [
      'foo=bar',
      '_=1690000000',
      '__proto__=x&constructor=y&prototype=z',
      'starts_at[]=x&ends_at[gt]=y',
      `${'k'.repeat(200)}=${'v'.repeat(200)}`,
      'page=2&limit=1',
    ]) {
      const res = await search(`/search?${WINDOW}&${extra}`);
      expect([res.status, res.body, res.headers.etag]).toEqual([200, ALL, plain.headers.etag]);
    }
  });

  it('ignores a flood of unknown parameters', async () => {
    const flood = Array.from({ length: 250 }, (_, i) => `p${i}=1`).join('&');
    const res = await search(`/search?${flood}&${WINDOW}`);
    expect(res.status).toBe(200);
  });
});

describe('methods', () => {
  it('answers HEAD like GET, without a body', async () => {
    const res = await rawGet(port, `/search?${WINDOW}`, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.etag).toMatch(/^"/);
    expect(res.text).toBe('');
  });

  it('answers OPTIONS with the allowed methods and no body', async () => {
    const res = await rawGet(port, '/search', 'OPTIONS');
    expect(res.status).toBe(200);
    expect(res.headers.allow).toBe('HEAD, GET');
    expect(res.text).toBe('');
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND'])(
    'refuses %s with 405 in the envelope and Allow',
    async (method) => {
      const res = await rawRequest(
        port,
        `${method} /search?${WINDOW} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0`,
      );
      expectEnvelope(res, 405, 'method_not_allowed');
      expect(res.headers.allow).toBe('HEAD, GET');
    },
  );

  it('refuses a method HTTP does not know at all with 400 in the envelope', async () => {
    const res = await rawGet(port, '/search', 'BREW');
    expectEnvelope(res, 400, 'bad_request');
  });
});

describe('paths and headers', () => {
  it.each([
    '/search/..%2F..%2Fetc%2Fpasswd',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/search%00',
    '/search%',
    '/search%E0%A4%A',
    '/../../etc/passwd',
    `/${'a'.repeat(1_500)}`,
  ])('answers the odd path %s with a 404 envelope', async (path) => {
    const res = await rawGet(port, path);
    expectEnvelope(res, 404, 'not_found');
  });

  it('refuses a malformed request with 400 in the envelope and closes', async () => {
    const res = await rawRequest(port, 'GET /search HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header');
    expectEnvelope(res, 400, 'bad_request');
    expect(res.closed).toBe(true);
  });

  it('refuses control characters in the request target with 400', async () => {
    const res = await rawRequest(
      port,
      Buffer.from('GET /search?starts_at=\x01\x7f HTTP/1.1\r\nHost: 127.0.0.1', 'latin1'),
    );
    expectEnvelope(res, 400, 'bad_request');
  });

  it('ignores garbage in conditional and forwarding headers', async () => {
    const res = await rawRequest(
      port,
      `GET /search?${WINDOW} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `If-None-Match: ${'"x", '.repeat(500)}*garbage\r\n` +
        'X-Forwarded-For: <script>, ::ffff:999.1.1.1, \r\n' +
        'X-Request-Id: <img src=x>\r\nAccept: text/html\r\nAccept-Encoding: zstd, br;q=2',
    );
    expectContract('/search', res);
    expect([res.status, res.body]).toEqual([200, ALL]);
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('forged client addresses (default PROXY_HOPS=0: the socket address)', () => {
  it('does not let a client escape the rate limit by rotating X-Forwarded-For', async () => {
    const limited = buildApi({ names, env: { RATE_LIMIT_ENABLED: 'true', RATE_LIMIT_MAX: '5' } });
    expect(limited.config.PROXY_HOPS).toBe(0);
    const limitedPort = portOf(await limited.start());
    const statuses: number[] = [];
    // A flood of fake addresses, one per request: all of it is the one socket address.
    for (let i = 0; i < 40; i++) {
      const forged = `203.0.113.${i}, 198.51.100.${i}`;
      const res = await rawRequest(
        limitedPort,
        `GET /search?${WINDOW} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${forged}\r\nX-Real-IP: 198.51.100.${i}`,
      );
      statuses.push(res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
  });
});
