import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { text } from 'node:stream/consumers';
import { etagOf, SearchCache, serializeEvents } from '../../../src/api/search/search-cache.js';
import type { EventSummary } from '../../../src/domain/event.js';
import { parseSearchWindow, type SearchWindow } from '../../../src/domain/search-window.js';
import { createApiMetrics } from '../../../src/observability/metrics.js';
import type { EventReader } from '../../../src/api/search/event-reader.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import { Bulkhead, BulkheadFullError } from '../../../src/api/search/bulkhead.js';

function summary(n: number): EventSummary {
  return {
    id: `00000000-0000-5000-8000-${String(n).padStart(12, '0')}`,
    title: `Event ${n}`,
    start_date: '2021-02-10',
    start_time: '20:00:00',
    end_date: '2021-02-10',
    end_time: '21:30:00',
    min_price: n,
    max_price: null,
  };
}

/**
 * An in-memory stand-in for the Elasticsearch reader (the real one is covered by the integration
 * tests): serves `events` in pages, counts queries, can be slowed down or made to fail.
 */
class MemoryReader implements Pick<EventReader, 'pages'> {
  queries = 0;
  pagesServed = 0;
  failWith: Error | null = null;
  /** Iterations that ended (completed or released early), like a closed point in time. */
  released = 0;
  private gate: Promise<void> = Promise.resolve();
  private open: (() => void) | null = null;

  constructor(
    public events: EventSummary[],
    private readonly pageSize = 2,
  ) {}

  /** Queries started from now on wait until `release()`. */
  hold(): void {
    this.gate = new Promise((resolve) => (this.open = resolve));
  }

  release(): void {
    this.open?.();
  }

  async *pages(_window: SearchWindow): AsyncGenerator<string[], void, undefined> {
    this.queries += 1;
    await this.gate;
    if (this.failWith) throw this.failWith;
    const snapshot = [...this.events];
    try {
      for (let i = 0; i < snapshot.length; i += this.pageSize) {
        this.pagesServed += 1;
        yield snapshot.slice(i, i + this.pageSize).map((e) => JSON.stringify(e));
      }
    } finally {
      this.released += 1;
    }
  }
}

const WINDOW = parseSearchWindow({ starts_at: '2021-01-01T00:00:00Z' });
const OTHER = parseSearchWindow({ starts_at: '2021-06-01T00:00:00Z' });

function setup(
  opts: { events?: number; maxEntryBytes?: number; maxEntries?: number; queries?: Bulkhead } = {},
) {
  const reader = new MemoryReader(Array.from({ length: opts.events ?? 3 }, (_, i) => summary(i)));
  const metrics = createApiMetrics(new Registry());
  const cache = new SearchCache(reader, {
    maxEntries: opts.maxEntries ?? 100,
    maxBytes: 1_000_000,
    maxEntryBytes: opts.maxEntryBytes ?? 100_000,
    metrics,
    queries: opts.queries,
  });
  const lookups = async () =>
    Object.fromEntries(
      (await metrics.cacheLookups.get()).values.map((v) => [String(v.labels.result), v.value]),
    );
  return { reader, cache, metrics, lookups };
}

async function bodyOf(answer: Awaited<ReturnType<SearchCache['answer']>>): Promise<string> {
  return answer.kind === 'buffer' ? answer.body.toString('utf8') : text(answer.stream);
}

describe('SearchCache', () => {
  it('serves the contract body, then the same bytes from the cache with a strong ETag', async () => {
    const { reader, cache, lookups } = setup();
    const first = await cache.answer(WINDOW);
    expect(first.kind).toBe('buffer');
    if (first.kind !== 'buffer') return;
    expect(first.source).toBe('miss');
    expect(JSON.parse(first.body.toString())).toEqual({
      data: { events: [summary(0), summary(1), summary(2)] },
      error: null,
    });
    expect(first.etag).toMatch(/^"[A-Za-z0-9_-]{32}"$/);
    expect(first.etag).toBe(etagOf(first.body));

    const second = await cache.answer(WINDOW);
    expect(second).toMatchObject({ kind: 'buffer', source: 'hit', etag: first.etag });
    expect(reader.queries).toBe(1);
    expect(await lookups()).toEqual({ miss: 1, hit: 1 });
  });

  it('hands out a current cached answer without a promise (hit), and nothing else', async () => {
    const { reader, cache, lookups } = setup();
    expect(cache.hit(WINDOW)).toBeUndefined();
    const first = await cache.answer(WINDOW);
    const hit = cache.hit(WINDOW);
    expect(hit).toMatchObject({ kind: 'buffer', source: 'hit' });
    expect(hit?.kind === 'buffer' && first.kind === 'buffer' && hit.etag === first.etag).toBe(true);
    expect(cache.hit(OTHER)).toBeUndefined();
    // Invalidated: the entry is no longer current, the next answer asks the store again.
    cache.invalidate();
    expect(cache.hit(WINDOW)).toBeUndefined();
    expect((await cache.answer(WINDOW)).source).toBe('miss');
    expect(reader.queries).toBe(2);
    // Only the answers handed out are counted.
    expect(await lookups()).toEqual({ miss: 2, hit: 1 });
  });

  it('leaves a window too large to cache to answer (streamed)', async () => {
    const { cache } = setup({ events: 50, maxEntryBytes: 500 });
    const first = await cache.answer(WINDOW);
    expect(first.kind).toBe('stream');
    await bodyOf(first);
    expect(cache.hit(WINDOW)).toBeUndefined();
  });

  it('serializes an empty result as an empty list', async () => {
    const { cache } = setup({ events: 0 });
    const answer = await cache.answer(WINDOW);
    expect(await bodyOf(answer)).toBe('{"data":{"events":[]},"error":null}');
    expect(serializeEvents([]).toString()).toBe('{"data":{"events":[]},"error":null}');
  });

  it('coalesces concurrent identical misses into one query', async () => {
    const { reader, cache, lookups } = setup();
    reader.hold();
    const answers = Promise.all(Array.from({ length: 20 }, () => cache.answer(WINDOW)));
    const other = cache.answer(OTHER);
    await new Promise((resolve) => setImmediate(resolve));
    reader.release();
    const all = await answers;
    await other;
    expect(reader.queries).toBe(2); // one per window
    expect(new Set(all.map((a) => (a.kind === 'buffer' ? a.etag : 'stream'))).size).toBe(1);
    expect(all.filter((a) => a.source === 'miss')).toHaveLength(1);
    expect(all.filter((a) => a.source === 'coalesced')).toHaveLength(19);
    expect(await lookups()).toEqual({ miss: 2, coalesced: 19 });
  });

  it('follows the data version, not the run, when the poller reads one', async () => {
    const { reader, cache } = setup();
    const runA = { runId: 'a', finishedAt: '2021-08-01T00:00:00.000Z', dataVersion: 'v1' };
    expect(cache.observeRun(runA)).toBe(true);
    const before = await cache.answer(WINDOW);
    // A newer run that changed nothing: same data version, the cache and its ETag stay.
    expect(
      cache.observeRun({ runId: 'b', finishedAt: '2021-08-01T00:01:00.000Z', dataVersion: 'v1' }),
    ).toBe(false);
    const same = await cache.answer(WINDOW);
    expect(same.source).toBe('hit');
    expect(same.kind === 'buffer' && before.kind === 'buffer' && same.etag === before.etag).toBe(
      true,
    );
    // A run that changed data (even a failed one: the successful run does not move).
    reader.events = [summary(8)];
    expect(
      cache.observeRun({ runId: 'b', finishedAt: '2021-08-01T00:01:00.000Z', dataVersion: 'v2' }),
    ).toBe(true);
    const after = await cache.answer(WINDOW);
    expect(after.source).toBe('miss');
    expect(await bodyOf(after)).toContain('Event 8');
  });

  it('is invalidated by a newer successful run, and only by a different one', async () => {
    const { reader, cache } = setup();
    const runA = { runId: 'a', finishedAt: '2021-08-01T00:00:00.000Z' };
    expect(cache.observeRun(runA)).toBe(true);
    const before = await cache.answer(WINDOW);
    expect(cache.observeRun({ ...runA })).toBe(false);
    expect((await cache.answer(WINDOW)).source).toBe('hit');

    reader.events = [summary(7)];
    expect(cache.observeRun({ runId: 'b', finishedAt: '2021-08-01T00:05:00.000Z' })).toBe(true);
    const after = await cache.answer(WINDOW);
    expect(after.source).toBe('miss');
    expect(await bodyOf(after)).toContain('Event 7');
    expect(after.kind === 'buffer' && before.kind === 'buffer' && after.etag !== before.etag).toBe(
      true,
    );
    expect(reader.queries).toBe(2);
  });

  it('does not let a request after an invalidation join a query started before it', async () => {
    const { reader, cache } = setup();
    reader.hold();
    const old = cache.answer(WINDOW);
    await new Promise((resolve) => setImmediate(resolve));
    cache.invalidate();
    const fresh = cache.answer(WINDOW);
    reader.release();
    expect((await old).source).toBe('miss');
    expect((await fresh).source).toBe('miss');
    expect(reader.queries).toBe(2);
  });

  it('serves the last answer (stale) when the store fails after an invalidation', async () => {
    const { reader, cache, lookups } = setup();
    const good = await cache.answer(WINDOW);
    cache.invalidate();
    reader.failWith = new StoreUnavailableError('down', null);
    const stale = await cache.answer(WINDOW);
    expect(stale.source).toBe('stale');
    expect(await bodyOf(stale)).toBe(await bodyOf(good));
    expect((await lookups()).stale).toBe(1);

    // Nothing cached for this window: the failure surfaces, as "unavailable".
    await expect(cache.answer(OTHER)).rejects.toBeInstanceOf(StoreUnavailableError);

    // Back up: answers resume from the store.
    reader.failWith = null;
    reader.events = [summary(9)];
    expect(await bodyOf(await cache.answer(WINDOW))).toContain('Event 9');
  });

  it('rethrows failures that are not unavailability when nothing is cached', async () => {
    const { reader, cache } = setup();
    reader.failWith = new TypeError('bug');
    await expect(cache.answer(WINDOW)).rejects.toThrow(TypeError);
  });

  it('streams answers above the entry size bound, without caching them', async () => {
    const { reader, cache } = setup({ events: 50, maxEntryBytes: 1_000 });
    const expected = serializeEvents(reader.events).toString();
    expect(expected.length).toBeGreaterThan(1_000);

    const first = await cache.answer(WINDOW);
    expect(first.kind).toBe('stream');
    expect(await bodyOf(first)).toBe(expected);
    expect(reader.queries).toBe(1);

    // Known to be too large: streamed at once, from a new query, never held whole.
    const second = await cache.answer(WINDOW);
    expect(second.kind).toBe('stream');
    expect(await bodyOf(second)).toBe(expected);
    expect(reader.queries).toBe(2);
    expect(cache.entries).toBe(1); // only the "too large" marker
  });

  it('releases the query of a stream that is dropped before it is read', async () => {
    const { reader, cache } = setup({ events: 50, maxEntryBytes: 1_000 });
    const answer = await cache.answer(WINDOW);
    expect(answer.kind).toBe('stream');
    expect(reader.released).toBe(0); // the query is mid-way, waiting for the client
    if (answer.kind === 'stream') answer.stream.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(reader.released).toBe(1);
    expect(reader.pagesServed).toBeLessThan(25);
  });

  it('gives each coalesced request of a too-large window its own complete stream', async () => {
    const { reader, cache } = setup({ events: 50, maxEntryBytes: 1_000 });
    const expected = serializeEvents(reader.events).toString();
    reader.hold();
    const answers = Promise.all([cache.answer(WINDOW), cache.answer(WINDOW), cache.answer(WINDOW)]);
    await new Promise((resolve) => setImmediate(resolve));
    reader.release();
    const bodies = await Promise.all((await answers).map(bodyOf));
    expect(bodies).toEqual([expected, expected, expected]);
  });

  it('keeps at most maxEntries windows, evicting the least recently used', async () => {
    const { cache, reader, metrics } = setup({ maxEntries: 2 });
    const [jan, feb, mar] = ['2021-01-01', '2021-02-01', '2021-03-01'].map((d) =>
      parseSearchWindow({ starts_at: `${d}T00:00:00Z` }),
    ) as [SearchWindow, SearchWindow, SearchWindow];
    for (const w of [jan, feb, mar]) await cache.answer(w);
    expect(cache.entries).toBe(2);
    expect((await metrics.cacheEntries.get()).values[0]?.value).toBe(2);
    await cache.answer(mar);
    await cache.answer(feb);
    expect(reader.queries).toBe(3);
    await cache.answer(jan); // evicted: asked again
    expect(reader.queries).toBe(4);
  });
});

describe('SearchCache with a query bulkhead', () => {
  it('gives coalesced misses one slot and refuses a miss beyond the bound at once', async () => {
    const queries = new Bulkhead('queries', 1);
    const { reader, cache } = setup({ queries });
    reader.hold();
    const answers = Promise.all(Array.from({ length: 10 }, () => cache.answer(WINDOW)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(queries.inUse).toBe(1);
    await expect(cache.answer(OTHER)).rejects.toBeInstanceOf(BulkheadFullError);
    expect(reader.queries).toBe(1);
    reader.release();
    expect((await answers).filter((a) => a.source === 'miss')).toHaveLength(1);
    expect(queries.inUse).toBe(0);
    // A hit takes no slot, even when none is free.
    const held = queries.acquire();
    expect((await cache.answer(WINDOW)).source).toBe('hit');
    held();
  });

  it('answers stale rather than refusing when it holds an older answer', async () => {
    const queries = new Bulkhead('queries', 1);
    const { cache } = setup({ queries });
    const fresh = await cache.answer(WINDOW);
    cache.invalidate();
    const held = queries.acquire();
    const stale = await cache.answer(WINDOW);
    expect(stale).toMatchObject({ kind: 'buffer', source: 'stale' });
    expect(await bodyOf(stale)).toBe(await bodyOf(fresh));
    held();
  });

  it('lets a miss wait in the line for a slot; one with an older answer is answered stale at once', async () => {
    const queries = new Bulkhead('queries', 1, undefined, { size: 1, maxWaitMs: 60_000 });
    const { reader, cache } = setup({ queries });
    await cache.answer(OTHER);
    cache.invalidate();
    reader.hold();
    const first = cache.answer(WINDOW);
    await new Promise((resolve) => setImmediate(resolve));
    const waiting = cache.answer(parseSearchWindow({ starts_at: '2021-03-01T00:00:00Z' }));
    await new Promise((resolve) => setImmediate(resolve));
    expect([queries.inUse, queries.queued]).toEqual([1, 1]);
    // OTHER has an older answer: no waiting for it.
    expect((await cache.answer(OTHER)).source).toBe('stale');
    reader.release();
    expect((await first).source).toBe('miss');
    expect((await waiting).source).toBe('miss');
    expect([queries.inUse, queries.queued]).toEqual([0, 0]);
  });

  it('keeps the slot of a streamed (oversize) answer until the stream ends', async () => {
    const queries = new Bulkhead('queries', 2);
    const { cache } = setup({ queries, events: 40, maxEntryBytes: 300 });
    for (let round = 0; round < 2; round++) {
      // Round 0: found too large while loading; round 1: known oversize (streamed from the start).
      const answer = await cache.answer(WINDOW);
      expect(answer.kind).toBe('stream');
      expect(queries.inUse).toBe(1);
      expect(JSON.parse(await bodyOf(answer)).data.events).toHaveLength(40);
      await new Promise((resolve) => setImmediate(resolve));
      expect(queries.inUse).toBe(0);
    }
  });
});
