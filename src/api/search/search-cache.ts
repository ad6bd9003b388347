/**
 * The read model of `GET /search`: serialized answers cached in process, per normalised window.
 *
 * - An answer is the exact response body (a Buffer) plus a strong ETag (a hash of the body, so
 *   every replica computes the same one for the same data).
 * - Entries belong to a *generation*: the data version observed by the freshness poller (it moves
 *   only when an ingest run changed the stored events, successful or not: docs/adr/0013-*.md).
 *   A new version bumps the generation, which invalidates every entry at once; invalidated
 *   entries stay in the LRU as a fallback for when Elasticsearch fails (served as `stale`).
 * - Concurrent identical misses share one Elasticsearch query (single flight).
 * - An answer larger than `maxEntryBytes` is not cached: it is streamed to the client page by page,
 *   so memory stays bounded whatever the size of the result.
 *
 * See docs/adr/0006-search-cache-and-invalidation.md.
 */
import { hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EventSummary } from '../../domain/event.js';
import type { SearchWindow } from '../../domain/search-window.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiMetrics } from '../../observability/metrics.js';
import type { EventReader } from './event-reader.js';
import type { Bulkhead, Release } from './bulkhead.js';
import { isUnavailable, StoreUnavailableError } from '../../store/errors.js';
import type { SuccessfulRun } from './freshness.js';
import { LRUCache } from 'lru-cache';

export type CacheSource = 'hit' | 'miss' | 'coalesced' | 'stale';

export type SearchAnswer =
  | { kind: 'buffer'; body: Buffer; etag: string; source: CacheSource }
  /** Too large to cache: the body is produced while it is sent (no ETag). */
  | { kind: 'stream'; stream: Readable; source: 'miss' };

export interface SearchCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** Answers above this size are streamed and not cached. */
  maxEntryBytes: number;
  metrics?: Pick<ApiMetrics, 'cacheLookups' | 'cacheEntries'>;
  logger?: Logger;
  /**
   * Bound on the Elasticsearch queries run at once (`ES_MAX_CONCURRENT_QUERIES`): a miss beyond it
   * is answered stale at once when an entry exists, else it waits in the bulkhead's line and fails
   * with BulkheadFullError when the line is full or does not move in time. Absent: none.
   */
  queries?: Pick<Bulkhead, 'acquire' | 'acquireWaiting'>;
}

type Entry =
  | { kind: 'buffer'; body: Buffer; etag: string; generation: number }
  /** Remembers that this window is too large, so the next request streams at once. */
  | { kind: 'oversize'; generation: number };

type Loaded =
  { kind: 'buffer'; body: Buffer; etag: string } | { kind: 'oversize'; stream: Readable | null };

const OPEN = Buffer.from('{"data":{"events":[');
const CLOSE = Buffer.from(']},"error":null}');

/**
 * A page's events (their stored JSON, spliced unparsed: docs/adr/0017-*.md), comma-separated.
 */
function serializePage(page: string[], first: boolean): Buffer {
  const joined = page.join(',');
  return Buffer.from(first ? joined : `,${joined}`);
}

/** A strong validator: the same bytes give the same ETag on every replica. */
export function etagOf(body: Buffer): string {
  return `"${hash('sha256', body, 'base64url').slice(0, 32)}"`;
}

/** The whole body at once (tests and small answers use the same bytes as the stream). */
export function serializeEvents(events: EventSummary[]): Buffer {
  return Buffer.concat([
    OPEN,
    serializePage(
      events.map((e) => JSON.stringify(e)),
      true,
    ),
    CLOSE,
  ]);
}

export class SearchCache {
  /** Bounded by entries and by bytes (least recently used out first); null: caching is off. */
  private readonly lru: LRUCache<string, Entry> | null;
  private readonly inflight = new Map<string, Promise<Loaded>>();
  private generation = 0;
  /** The run the current generation stands for; undefined until the first observation. */
  private runToken: string | undefined;

  constructor(
    private readonly reader: Pick<EventReader, 'pages'>,
    private readonly options: SearchCacheOptions,
  ) {
    this.lru =
      options.maxEntries > 0
        ? new LRUCache<string, Entry>({ max: options.maxEntries, maxSize: options.maxBytes })
        : null;
  }

  /** Windows held (fresh or invalidated). */
  get entries(): number {
    return this.lru?.size ?? 0;
  }

  /** Current generation (a counter bumped at each invalidation). */
  get currentGeneration(): number {
    return this.generation;
  }

  /**
   * Records the newest successful run the poller saw. A data version (or, without one, a run)
   * other than the one the cache was built from invalidates every entry. Returns true when it did.
   */
  observeRun(run: SuccessfulRun | null): boolean {
    const token = run ? (run.dataVersion ?? `${run.finishedAt}#${run.runId}`) : 'never';
    if (token === this.runToken) return false;
    const first = this.runToken === undefined;
    this.runToken = token;
    this.invalidate();
    this.options.logger?.info(
      {
        generation: this.generation,
        run_id: run?.runId ?? null,
        finished_at: run?.finishedAt,
        data_version: run?.dataVersion,
      },
      first ? 'search cache: first data version observed' : 'search cache: the data changed',
    );
    return true;
  }

  /** Marks every entry as out of date (they remain as a fallback for Elasticsearch failures). */
  invalidate(): void {
    this.generation += 1;
  }

  /**
   * The current cached answer for `window` (counted as a hit), or undefined: the hot path's answer
   * without a promise. Anything else (a miss, an invalidated entry, a window too large to cache)
   * is `answer`'s.
   */
  hit(window: SearchWindow): SearchAnswer | undefined {
    const entry = this.lru?.get(window.key);
    if (entry?.kind !== 'buffer' || entry.generation !== this.generation) return undefined;
    this.count('hit');
    return { kind: 'buffer', body: entry.body, etag: entry.etag, source: 'hit' };
  }

  /**
   * The answer for `window`: from the cache when it is current, else from Elasticsearch (one query
   * for all concurrent identical misses), else a stale entry when Elasticsearch fails.
   *
   * @throws StoreUnavailableError when Elasticsearch cannot answer and nothing is cached.
   */
  async answer(window: SearchWindow): Promise<SearchAnswer> {
    const generation = this.generation;
    const entry = this.lru?.get(window.key);
    if (entry && entry.generation === generation) {
      if (entry.kind === 'buffer') {
        this.count('hit');
        return { kind: 'buffer', body: entry.body, etag: entry.etag, source: 'hit' };
      }
      this.count('miss');
      return { kind: 'stream', stream: await this.streamAll(window), source: 'miss' };
    }

    const flightKey = `${generation}|${window.key}`;
    const pending = this.inflight.get(flightKey);
    let loaded: Loaded;
    let source: CacheSource;
    try {
      if (pending) {
        this.count('coalesced');
        source = 'coalesced';
        loaded = await pending;
      } else {
        this.count('miss');
        source = 'miss';
        const load = this.load(window, generation);
        this.inflight.set(flightKey, load);
        try {
          loaded = await load;
        } finally {
          this.inflight.delete(flightKey);
        }
      }
    } catch (err) {
      return this.fallback(window, err);
    }

    if (loaded.kind === 'buffer') {
      return { kind: 'buffer', body: loaded.body, etag: loaded.etag, source };
    }
    // Too large to cache. The leader takes the stream that continues its query; others that
    // joined it stream on their own (each with bounded memory).
    if (loaded.stream && source === 'miss') {
      const stream = loaded.stream;
      loaded.stream = null;
      return { kind: 'stream', stream, source: 'miss' };
    }
    return { kind: 'stream', stream: await this.streamAll(window), source: 'miss' };
  }

  private fallback(window: SearchWindow, err: unknown): SearchAnswer {
    const entry = this.lru?.peek(window.key);
    if (entry?.kind === 'buffer') {
      this.count('stale');
      this.options.logger?.warn(
        { err, window: window.key, entry_generation: entry.generation },
        'search: Elasticsearch failed, serving the cached answer',
      );
      return { kind: 'buffer', body: entry.body, etag: entry.etag, source: 'stale' };
    }
    if (isUnavailable(err)) {
      throw new StoreUnavailableError('Elasticsearch is unavailable and nothing is cached', err);
    }
    throw err;
  }

  private async load(window: SearchWindow, generation: number): Promise<Loaded> {
    const release = await this.acquireQuery(window);
    const pages = this.reader.pages(window);
    const chunks: Buffer[] = [OPEN];
    let size = OPEN.length + CLOSE.length;
    let first = true;
    let handedOff = false;
    try {
      for (;;) {
        const next = await pages.next();
        if (next.done) break;
        if (next.value.length === 0) continue;
        const chunk = serializePage(next.value, first);
        first = false;
        chunks.push(chunk);
        size += chunk.length;
        if (size > this.options.maxEntryBytes) {
          this.store(window.key, { kind: 'oversize', generation }, window.key.length + 64);
          // The stream keeps the query's slot until it ends.
          handedOff = true;
          return { kind: 'oversize', stream: streamOf(chunks, pages, first, release) };
        }
      }
    } catch (err) {
      await pages.return(undefined).catch(() => undefined);
      throw err;
    } finally {
      if (!handedOff) release();
    }
    chunks.push(CLOSE);
    const body = Buffer.concat(chunks, size);
    const etag = etagOf(body);
    this.store(window.key, { kind: 'buffer', body, etag, generation }, body.length + 128);
    return { kind: 'buffer', body, etag };
  }

  private store(key: string, entry: Entry, size: number): void {
    if (!this.lru) return;
    const existing = this.lru.peek(key);
    // A slow query of an older generation must not replace a newer answer.
    if (existing && existing.generation > entry.generation) return;
    // An entry larger than maxBytes on its own is not stored (lru-cache's maxEntrySize).
    this.lru.set(key, entry, { size });
    this.options.metrics?.cacheEntries.set(this.lru.size);
  }

  /**
   * The whole answer as a stream, never buffered whole (for windows known to be too large). The
   * first page is read before the stream is handed out, so that a refusal (Elasticsearch down, the
   * bulkhead full) is still an error response rather than a body cut short.
   */
  private async streamAll(window: SearchWindow): Promise<Readable> {
    const release = await this.acquireQuery(window);
    const pages = this.reader.pages(window);
    let next: IteratorResult<string[], void>;
    try {
      next = await pages.next();
    } catch (err) {
      release();
      await pages.return(undefined).catch(() => undefined);
      throw err;
    }
    const head: Buffer[] = [OPEN];
    const first = next.done || next.value.length === 0;
    if (!next.done && next.value.length > 0) head.push(serializePage(next.value, true));
    return streamOf(head, pages, first, release);
  }

  /**
   * A query slot; its release. A window with an older answer to fall back on does not wait for
   * one (it is answered stale at once when none is free); the others wait in the bulkhead's line.
   */
  private acquireQuery(window: SearchWindow): Release | Promise<Release> {
    const queries = this.options.queries;
    if (!queries) return () => undefined;
    return this.lru?.peek(window.key)?.kind === 'buffer'
      ? queries.acquire()
      : queries.acquireWaiting();
  }

  private count(result: CacheSource): void {
    this.options.metrics?.cacheLookups.inc({ result });
  }
}

/**
 * A Readable over the rest of an answer. However it ends (consumed, destroyed before it started,
 * client gone), the page iterator is released, which closes its point in time.
 */
function streamOf(
  head: Buffer[],
  pages: AsyncGenerator<string[], void, undefined>,
  firstPending: boolean,
  release: () => void,
): Readable {
  const stream = Readable.from(continueStream(head, pages, firstPending));
  stream.once('close', () => {
    void pages
      .return(undefined)
      .catch(() => undefined)
      .finally(release);
  });
  return stream;
}

async function* continueStream(
  head: Buffer[],
  pages: AsyncGenerator<string[], void, undefined>,
  firstPending: boolean,
): AsyncGenerator<Buffer, void, undefined> {
  yield Buffer.concat(head);
  let first = firstPending;
  for await (const page of pages) {
    if (page.length === 0) continue;
    yield serializePage(page, first);
    first = false;
  }
  yield CLOSE;
}
