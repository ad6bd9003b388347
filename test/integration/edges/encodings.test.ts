/**
 * Issue 16, item 8: a feed served over HTTP (nock) in a declared encoding Node decodes (UTF-8,
 * UTF-16, ISO-8859-1, windows-1252) is read through the real run; any other declared encoding is
 * refused with the encoding named, and nothing is written.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import '../../support/promise-with-resolvers.js';
import nock from 'nock';
import { httpFeedSource } from '../../../src/ingest/feed-client.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { allEvents, ingest } from '../ingest/support.js';
import { bootstrap, feedXml, searchApi, titlesOf } from './support.js';

const env = testStoreEnv('edge-encodings');
const client = testClient(env);
const HOST = 'http://provider.test';
const prefixes: string[] = [];

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});

afterEach(() => {
  nock.cleanAll();
});

afterAll(async () => {
  // Restored, not only re-enabled: its interceptors would otherwise stay on fetch and sockets for
  // the next test file in this worker.
  nock.enableNetConnect();
  nock.restore();
  for (const prefix of prefixes) await dropPrefix(client, prefix);
  await client.close();
});

let count = 0;
/** Serves `body` once and runs an ingest of it into a fresh prefix. */
async function ingestServed(body: Buffer, contentType: string) {
  const prefix = `${env.ES_INDEX_PREFIX}-${count++}`;
  prefixes.push(prefix);
  const names: IndexNames = await bootstrap(client, prefix);
  nock(HOST).get('/feed').reply(200, body, { 'content-type': contentType });
  const source = httpFeedSource({
    url: `${HOST}/feed`,
    timeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    retries: 0,
    minRetryDelayMs: 10,
    maxRetryDelayMs: 100,
  });
  const result = await ingest(client, prefix, source);
  return { result, names, prefix };
}

const TITLE = 'Café Müller · Ñandú';
const CP1252_TITLE = 'Gala “Año nuevo” – 20€';
const event = (title: string) => [
  { base: 'e1', title, start: '2022-01-01T20:00:00', end: '2022-01-01T22:00:00' },
];
const declared = (name: string) => `<?xml version="1.0" encoding="${name}"?>`;

describe('declared encodings', () => {
  it.each([
    ['UTF-8', TITLE, (s: string) => Buffer.from(s, 'utf8')],
    ['ISO-8859-1', TITLE, (s: string) => Buffer.from(s, 'latin1')],
    ['windows-1252', CP1252_TITLE, (s: string) => encodeCp1252(s)],
    ['UTF-16', TITLE, (s: string) => Buffer.from(`\uFEFF${s}`, 'utf16le')],
    [
      'UTF-16',
      CP1252_TITLE,
      (s: string) => Buffer.from(`\uFEFF${s}`, 'utf16le').swap16(), // big-endian, with its BOM
    ],
  ])('%s is read (%s)', async (name, title, encode) => {
    const { result, names, prefix } = await ingestServed(
      encode(feedXml(event(title), declared(name))),
      `application/xml; charset=${name}`,
    );
    expect(result.error?.message ?? null).toBeNull();
    expect(result.run.counts).toMatchObject({ events_upserted: 1, events_rejected: 0 });
    expect([...(await allEvents(client, prefix)).values()].map((d) => d.title)).toEqual([title]);
    expect(titlesOf(await searchApi(client, names)(''))).toEqual([title]);
  });

  it('refuses another declared encoding, naming it, and writes nothing', async () => {
    const { result, prefix } = await ingestServed(
      Buffer.from(feedXml(event('Show'), declared('Shift_JIS')), 'latin1'),
      'application/xml',
    );
    expect(result.ok).toBe(false);
    expect(result.run.outcome).toBe('failed');
    expect(result.run.error).toMatch(
      /the feed declares encoding "Shift_JIS", which is not supported/,
    );
    expect((await allEvents(client, prefix)).size).toBe(0);
  });
});

/** windows-1252 bytes of a string (the characters this test uses). */
function encodeCp1252(text: string): Buffer {
  const high: Record<string, number> = { '€': 0x80, '–': 0x96, '“': 0x93, '”': 0x94 };
  return Buffer.from(
    [...text].map((c) => {
      const code = high[c] ?? c.charCodeAt(0);
      if (code > 0xff) throw new Error(`no windows-1252 byte for ${c}`);
      return code;
    }),
  );
}
