/**
 * A feed whose bytes equal the previous run's (docs/adr/0016-unchanged-feed-and-ingest-cost.md),
 * through the real ingester's wiring over a real Elasticsearch: skipped (not parsed, nothing sent)
 * only when the previous run succeeded on the same bytes the same UTC day and its documents are in
 * the index; every other case takes the full path. Each case uses its own provider (its own run
 * history and documents).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import nock from 'nock';
import { httpFeedSource } from '../../../src/ingest/feed-client.js';
import type { EventSink } from '../../../src/ingest/run.js';
import { bootstrapIndices, indexNames } from '../../../src/store/indices.js';
import { getRun } from '../../../src/store/runs.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import {
  allEvents,
  bytesSource,
  fixture,
  indexTotal as indexTotalOf,
  ingest,
  type IngestOptions,
} from './support.js';

const env = testStoreEnv('ingest-unchanged');
const client = testClient(env);
const names = indexNames(env.ES_INDEX_PREFIX);
const at = (day: string, time: string) => () => new Date(`${day}T${time}Z`);

beforeAll(() => bootstrapIndices(client, names.prefix));
afterAll(() => dropPrefix(client, names.prefix).finally(() => client.close()));

const indexTotal = () => indexTotalOf(client, names.prefix);

/** Runs the real wiring over `body`, counting the items its writer was handed. */
async function run(body: Buffer, options: IngestOptions & { provider: string }) {
  const handed = { items: 0, calls: 0 };
  const wrapSink =
    (sink: EventSink): EventSink =>
    (ops, context) => {
      handed.calls++;
      async function* counted() {
        for await (const op of ops) {
          handed.items++;
          yield op;
        }
      }
      return (options.wrapSink ? options.wrapSink(sink) : sink)(counted(), context);
    };
  const result = await ingest(client, names.prefix, bytesSource(body), { ...options, wrapSink });
  return { result, handed };
}

const lastSeenOf = async (provider: string) =>
  [...(await allEvents(client, names.prefix)).values()]
    .filter((doc) => doc.provider === provider)
    .map((doc) => doc.last_seen_at);

describe('the same bytes again, the same UTC day', () => {
  it('are neither parsed nor written; the run says so and counts what the feed held', async () => {
    const provider = 'same-day';
    const first = await run(fixture(1), { provider, now: at('2024-05-06', '10:00:00') });
    expect(first.result.ok).toBe(true);
    expect(first.result.run.feed).toMatchObject({
      unchanged: false,
      written_day: '2024-05-06T00:00:00.000Z',
      documents: 3,
      bytes: fixture(1).length,
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const before = await indexTotal();

    const second = await run(fixture(1), { provider, now: at('2024-05-06', '23:59:00') });
    expect(second.result.ok).toBe(true);
    expect(second.result.feedUnchanged).toBe(true);
    expect(second.handed).toEqual({ items: 0, calls: 0 });
    expect(await indexTotal()).toBe(before);
    const recorded = await getRun(client, names.prefix, second.result.run.run_id);
    expect(recorded).toMatchObject({
      outcome: 'succeeded',
      counts: { ...first.result.run.counts, items_changed: 0, bulk_failures: 0 },
      feed: { ...first.result.run.feed, unchanged: true },
    });
  });
});

describe('the full path is taken', () => {
  it('when the day changed: last_seen_at moves to the new day', async () => {
    const provider = 'next-day';
    await run(fixture(1), { provider, now: at('2024-05-06', '23:59:00') });
    const next = await run(fixture(1), { provider, now: at('2024-05-07', '00:01:00') });
    expect(next.result.ok).toBe(true);
    expect(next.result.feedUnchanged).toBe(false);
    expect(next.handed.items).toBe(3);
    expect(next.result.run.counts.items_changed).toBe(3);
    expect(next.result.run.feed).toMatchObject({
      unchanged: false,
      written_day: '2024-05-07T00:00:00.000Z',
    });
    expect(await lastSeenOf(provider)).toEqual(Array(3).fill('2024-05-07T00:00:00.000Z'));
  });

  it('when the bytes differ but not the content: each item is skipped by its hash', async () => {
    const provider = 'other-bytes';
    await run(fixture(1), { provider, now: at('2024-05-06', '10:00:00') });
    const before = await indexTotal();
    const other = Buffer.concat([fixture(1), Buffer.from('<!-- the same events -->\n')]);
    const again = await run(other, { provider, now: at('2024-05-06', '10:01:00') });
    expect(again.result.ok).toBe(true);
    expect(again.result.feedUnchanged).toBe(false);
    expect(again.handed.items).toBe(3);
    expect(again.result.run.counts.items_changed).toBe(0);
    expect(await indexTotal()).toBe(before);
  });

  it('when the previous run failed on the same bytes (and that run is recorded)', async () => {
    const provider = 'after-failure';
    const failed = await run(fixture(1), {
      provider,
      now: at('2024-05-06', '10:00:00'),
      wrapSink: () => () => Promise.reject(new Error('Elasticsearch went away')),
    });
    expect(failed.result.ok).toBe(false);
    expect(await getRun(client, names.prefix, failed.result.run.run_id)).toMatchObject({
      outcome: 'failed',
      error: 'Elasticsearch went away',
      feed: { unchanged: false, bytes: fixture(1).length },
    });
    const after = await run(fixture(1), { provider, now: at('2024-05-06', '10:01:00') });
    expect(after.result.ok).toBe(true);
    expect(after.result.feedUnchanged).toBe(false);
    expect(after.handed.items).toBe(3);
    expect(after.result.run.counts.items_changed).toBe(3);
  });

  it('when the index lacks the documents the bytes map to', async () => {
    const provider = 'emptied';
    await run(fixture(1), { provider, now: at('2024-05-06', '10:00:00') });
    const alias = names.eventsAlias;
    const hits = await client.search({ index: alias, query: { term: { provider } }, size: 10 });
    await client.bulk({
      refresh: true,
      operations: hits.hits.hits.map((h) => ({ delete: { _index: h._index, _id: h._id } })),
    });
    const again = await run(fixture(1), { provider, now: at('2024-05-06', '10:01:00') });
    expect(again.result.ok).toBe(true);
    expect(again.result.feedUnchanged).toBe(false);
    expect(again.result.run.counts.items_changed).toBe(3);
    expect(await lastSeenOf(provider)).toHaveLength(3);
  });

  it("when the provider's time zone changed (the documents' instants change with it)", async () => {
    const provider = 'other-zone';
    await run(fixture(1), { provider, now: at('2024-05-06', '10:00:00') });
    const again = await run(fixture(1), {
      provider,
      now: at('2024-05-06', '10:01:00'),
      env: { PROVIDER_TIMEZONE: 'America/New_York' },
    });
    expect(again.result.feedUnchanged).toBe(false);
    expect(again.handed.items).toBe(3);
    expect(again.result.run.feed).toMatchObject({ time_zone: 'America/New_York' });
  });

  it('when the previous run wrote its documents with other code (another release)', async () => {
    const provider = 'other-code';
    const first = await run(fixture(1), {
      provider,
      now: at('2024-05-06', '10:00:00'),
      documentCode: 'the-previous-release',
    });
    expect(first.result.run.feed).toMatchObject({ code: 'the-previous-release' });
    const again = await run(fixture(1), { provider, now: at('2024-05-06', '10:01:00') });
    expect(again.result.feedUnchanged).toBe(false);
    expect(again.handed.items).toBe(3);
    expect(again.result.run.feed?.code).toMatch(/^[0-9a-f]{64}$/);
    // This release's run is the one the next identical feed is compared with: skipped.
    const third = await run(fixture(1), { provider, now: at('2024-05-06', '10:02:00') });
    expect(third.result.feedUnchanged).toBe(true);
    expect(third.handed.items).toBe(0);
  });

  it('when INGEST_SKIP_UNCHANGED_FEED is false', async () => {
    const provider = 'no-skip';
    const options = { provider, env: { INGEST_SKIP_UNCHANGED_FEED: 'false' } };
    await run(fixture(1), { ...options, now: at('2024-05-06', '10:00:00') });
    const again = await run(fixture(1), { ...options, now: at('2024-05-06', '10:01:00') });
    expect(again.result.feedUnchanged).toBe(false);
    expect(again.handed.items).toBe(3);
    expect(again.result.run.counts.items_changed).toBe(0);
  });
});

describe('a provider that sends validators (ETag, Last-Modified)', () => {
  const HOST = 'http://provider.test';
  const validators = { etag: '"v1"', 'last-modified': 'Mon, 06 May 2024 09:00:00 GMT' };
  const source = httpFeedSource({
    url: `${HOST}/feed`,
    timeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    retries: 0,
  });
  afterAll(() => {
    nock.cleanAll();
    nock.restore();
  });

  /**
   * One run over the nock'd provider: a 200 answers only a request without validators, a 304 only
   * one that sends them back (anything else finds no interceptor and fails the run).
   */
  async function runOver(provider: string, now: () => Date, status: 200 | 304) {
    const scope =
      status === 200
        ? nock(HOST, { badheaders: ['if-none-match', 'if-modified-since'] })
            .get('/feed')
            .reply(200, fixture(1), { 'content-type': 'application/xml', ...validators })
        : nock(HOST, {
            reqheaders: {
              'if-none-match': validators.etag,
              'if-modified-since': validators['last-modified'],
            },
          })
            .get('/feed')
            .reply(304, '', validators);
    const result = await ingest(client, names.prefix, source, { provider, now });
    expect(result.error?.message).toBeUndefined();
    scope.done();
    return result;
  }

  it('are sent back the same day; a 304 is a run over an unchanged feed', async () => {
    const provider = 'not-modified';
    const first = await runOver(provider, at('2024-05-06', '10:00:00'), 200);
    expect(first.run.feed).toMatchObject({
      unchanged: false,
      etag: '"v1"',
      last_modified: validators['last-modified'],
    });
    const before = await indexTotal();

    const second = await runOver(provider, at('2024-05-06', '10:01:00'), 304);
    expect(second.feedUnchanged).toBe(true);
    expect(second.run.counts).toEqual({
      ...first.run.counts,
      items_changed: 0,
      bulk_failures: 0,
    });
    expect(second.run.feed).toEqual({ ...first.run.feed, unchanged: true });
    expect(await indexTotal()).toBe(before);

    // The next UTC day asks without validators and writes the new last_seen_at.
    const next = await runOver(provider, at('2024-05-07', '00:01:00'), 200);
    expect(next.feedUnchanged).toBe(false);
    expect(next.run.counts.items_changed).toBe(3);
  });
});
