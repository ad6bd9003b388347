/**
 * Concurrent misses sent as one `_msearch` (src/api/search/search-batcher.ts, ADR 0017's fifth
 * addendum), against a real Elasticsearch through the real builder. A batch is made certain rather
 * than hoped for: the test holds every query slot, lets the misses queue for them, then frees the
 * slots at once, so the waiting misses ask Elasticsearch in the same turn of the event loop.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { errors } from '@elastic/elasticsearch';
import { createEventReader, FIRST_FILTER_PATH } from '../../../src/api/search/event-reader.js';
import { createSearchBatcher } from '../../../src/api/search/search-batcher.js';
import type { Release } from '../../../src/api/search/bulkhead.js';
import { portOf } from '../../../src/api/http/server.js';
import { parseSearchWindow } from '../../../src/domain/search-window.js';
import { errorType, isUnavailable } from '../../../src/store/errors.js';
import { indexNames, type IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { Relay } from '../../support/relay.js';
import { generatedRawEvents, seedEvents, seedRun } from '../../support/seed.js';
import { waitUntil } from '../../support/wait.js';
import { buildApi } from './api-fixture.js';

const env = testStoreEnv('api-batching');
const admin = testClient(env);
let names: IndexNames;

beforeAll(async () => {
  // 400 one-hour events from 2022-01-01, four per start, a start every 90 minutes (~6 days).
  names = await seedEvents(admin, env.ES_INDEX_PREFIX, generatedRawEvents(400));
  await seedRun(admin, names);
});

afterAll(async () => {
  await dropPrefix(admin, env.ES_INDEX_PREFIX);
  await admin.close();
});

/** Eight different windows over the seeded days, of different sizes (one empty). */
const WINDOWS = Array.from({ length: 8 }, (_, i) => {
  const start = new Date(Date.UTC(2022, 0, 1, 3 * i));
  const end = new Date(start.getTime() + (i + 1) * 7 * 3_600_000);
  const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');
  return i === 7
    ? '/search?starts_at=2023-05-01T00:00:00Z&ends_at=2023-05-02T00:00:00Z'
    : `/search?starts_at=${iso(start)}&ends_at=${iso(end)}`;
});

type Api = ReturnType<typeof buildApi>;

/** Requests counted by the API's Elasticsearch metrics, by operation. */
async function esRequests(api: Api): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await api.metrics.esDuration.get()).values) {
    if (v.metricName?.endsWith('_count')) counts[String(v.labels.operation)] = v.value;
  }
  return counts;
}

async function esErrors(api: Api): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const v of (await api.metrics.esErrors.get()).values) {
    counts[String(v.labels.operation)] = v.value;
  }
  return counts;
}

/**
 * Sends `paths` at once to the listening API while every query slot is held, waits until all of
 * them wait in the bulkhead's line, then frees the slots together: one batch.
 */
async function batched(api: Api, base: string, paths: string[]) {
  const queries = api.bulkheads.queries;
  const held: Release[] = [];
  while (queries.inUse < queries.limit) held.push(queries.acquire());
  const answers = Promise.all(
    paths.map(async (path) => {
      const res = await fetch(`${base}${path}`);
      return { status: res.status, body: await res.text(), cache: res.headers.get('x-cache') };
    }),
  );
  await waitUntil(() => queries.queued === paths.length, 'every miss waits for a slot');
  for (const release of held) release();
  return answers;
}

describe('concurrent misses batched into one _msearch', () => {
  it('gives each window its own answer, the one it gets alone', async () => {
    const api = buildApi({ names, env: { CACHE_MAX_ENTRIES: '0' } });
    const base = `http://127.0.0.1:${portOf(await api.start())}`;

    const alone: string[] = [];
    for (const path of WINDOWS) {
      const res = await fetch(`${base}${path}`);
      expect(res.status).toBe(200);
      alone.push(await res.text());
    }
    // Each sequential miss went alone, as a plain `_search`.
    expect(await esRequests(api)).toEqual({ search: WINDOWS.length });
    // The windows differ (so a mixed-up answer would show), one of them is empty.
    expect(new Set(alone).size).toBe(WINDOWS.length);
    expect(alone[7]).toBe('{"data":{"events":[]},"error":null}');
    expect(alone.filter((b) => b.length > 1_000).length).toBeGreaterThanOrEqual(6);

    const together = await batched(api, base, WINDOWS);
    expect(together.map((a) => a.status)).toEqual(WINDOWS.map(() => 200));
    expect(together.map((a) => a.body)).toEqual(alone);
    expect(together.map((a) => a.cache)).toEqual(WINDOWS.map(() => 'miss'));
    // Two requests for the eight: the default bound is a third of the 16 query slots (6), so
    // the eight misses of one turn go as a batch of six and one of two.
    expect(await esRequests(api)).toEqual({ search: WINDOWS.length, msearch: 2 });
    expect(await esErrors(api)).toEqual({});
  });

  it('sends each search alone with ES_MSEARCH_MAX_BATCH=1', async () => {
    const api = buildApi({ names, env: { CACHE_MAX_ENTRIES: '0', ES_MSEARCH_MAX_BATCH: '1' } });
    const base = `http://127.0.0.1:${portOf(await api.start())}`;
    const together = await batched(api, base, WINDOWS);
    expect(together.map((a) => a.status)).toEqual(WINDOWS.map(() => 200));
    expect(await esRequests(api)).toEqual({ search: WINDOWS.length });
  });

  it('fails every search of a batch with the 503 of a lone one when Elasticsearch is unreachable', async () => {
    // Elasticsearch behind a relay this test closes: a refused connection, as when it is stopped.
    const relay = new Relay(new URL(env.ELASTICSEARCH_URL));
    await relay.open();
    const api = buildApi({
      names,
      url: `http://127.0.0.1:${relay.port}`,
      env: { CACHE_MAX_ENTRIES: '0' },
    });
    const base = `http://127.0.0.1:${portOf(await api.start())}`;
    await relay.close();
    try {
      const lone = await fetch(`${base}${WINDOWS[0]}`);
      expect(lone.status).toBe(503);
      const loneBody = await lone.text();
      expect(JSON.parse(loneBody)).toEqual({
        error: { code: 'service_unavailable', message: expect.stringMatching(/unavailable/) },
        data: null,
      });

      const together = await batched(api, base, WINDOWS);
      expect(together.map((a) => a.status)).toEqual(WINDOWS.map(() => 503));
      expect(together.map((a) => a.body)).toEqual(WINDOWS.map(() => loneBody));
      // The eight as a batch of six and one of two (the default bound: 16 slots / 3), both failed.
      expect(await esRequests(api)).toEqual({ search: 1, msearch: 2 });
      expect(await esErrors(api)).toEqual({ search: 1, msearch: 2 });
    } finally {
      await relay.close();
    }
  });
});

describe('an error inside a batch', () => {
  const client = testClient(env);
  afterAll(() => client.close());
  const window = parseSearchWindow({
    starts_at: '2022-01-01T00:00:00Z',
    ends_at: '2022-01-02T00:00:00Z',
  });

  /** The first page of `window` from each reader, all asked in the same turn; errors returned. */
  function firstPages(readers: Array<ReturnType<typeof createEventReader>>) {
    return Promise.all(
      readers.map((reader) =>
        reader
          .pages(window)
          .next()
          .then(
            (page) => page.value,
            (err: unknown) => err,
          ),
      ),
    );
  }

  it('is the error a lone search gets, classified alike, and the other searches are answered', async () => {
    const observed: Array<[string, boolean]> = [];
    const batcher = createSearchBatcher(client, {
      filterPath: FIRST_FILTER_PATH,
      maxBatch: 16,
      observe: (operation, _seconds, failed) => observed.push([operation, failed]),
    });
    const missing = indexNames(`${env.ES_INDEX_PREFIX}-missing`);
    // Three readers sharing one batcher: the seeded index, an index that does not exist (404,
    // unavailable: a 503), a page larger than the index allows (400: a bug, a 500).
    const readers = (batch: boolean) => [
      createEventReader(client, names, batch ? { batcher } : {}),
      createEventReader(client, missing, batch ? { batcher } : {}),
      createEventReader(client, names, { pageSize: 20_000, ...(batch ? { batcher } : {}) }),
    ];

    const alone = await firstPages(readers(false));
    const together = await firstPages(readers(true));
    expect(observed).toEqual([['msearch', true]]);

    // The seeded index's page, as alone.
    expect(Array.isArray(together[0])).toBe(true);
    expect((together[0] as string[]).length).toBeGreaterThan(10);
    expect(together[0]).toEqual(alone[0]);

    for (const [i, status, type, unavailable] of [
      [1, 404, 'index_not_found_exception', true],
      [2, 400, 'search_phase_execution_exception', false],
    ] as const) {
      const lone = alone[i] as errors.ResponseError;
      const item = together[i] as errors.ResponseError;
      expect(lone).toBeInstanceOf(errors.ResponseError);
      expect(item).toBeInstanceOf(errors.ResponseError);
      expect([item.statusCode, errorType(item), isUnavailable(item)]).toEqual([
        status,
        type,
        unavailable,
      ]);
      expect([lone.statusCode, errorType(lone), isUnavailable(lone)]).toEqual([
        status,
        type,
        unavailable,
      ]);
      expect(item.message).toBe(lone.message);
      expect((item.body as { error: unknown }).error).toEqual(
        (lone.body as { error: unknown }).error,
      );
    }
  });
});
