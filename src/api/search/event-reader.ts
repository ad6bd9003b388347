/**
 * The read side of the events index: every event inside a search window, in order, in pages.
 *
 * Stored documents (written by the ingester, see src/store/indices.ts) carry `ever_online`, a
 * `period` date_range `[starts_at, ends_at]` in venue-local wall-clock time without offset, the
 * same period as `instants`, and the response object as ready-made JSON in `summary_json` (an object
 * in `summary` before version 3). Pages are those JSON texts, spliced into the answer unparsed. A window matches an
 * event when the event's period lies within it (docs/adr/0004-time-zones-and-range-semantics.md).
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from '../../store/client.js';
import type { IndexNames } from '../../store/indices.js';
import type { EventSummary } from '../../domain/event.js';
import type { SearchWindow, WindowBound } from '../../domain/search-window.js';
import type { Bulkhead } from './bulkhead.js';
import type { SearchBatcher } from './search-batcher.js';
import { isRecording } from '../../observability/spans.js';

/** Observes each Elasticsearch request (the API's metrics); optional. */
export type StoreObserver = (operation: string, seconds: number, failed: boolean) => void;

export interface EventReaderOptions {
  /** Hits per `search_after` page (default 1000). Bounds the memory one page takes. */
  pageSize?: number;
  /** How long a point in time stays open between two pages (default `30s`). */
  keepAlive?: string;
  observe?: StoreObserver;
  /**
   * Timeout of each request, in ms. Give it here rather than only on the client: undici enforces
   * the client-wide timeout with a coarse (one second) timer, a per-request one is exact.
   */
  requestTimeoutMs?: number;
  /** Bound on the points in time open at once (`ES_MAX_OPEN_PITS`); absent: none. */
  pits?: Pick<Bulkhead, 'acquire'>;
  /**
   * Sends the first request of unsampled windows batched with other concurrent ones (one
   * `_msearch`, docs/adr/0017-*.md); built with `FIRST_FILTER_PATH` and this reader's timeout.
   * Absent: each first request is its own `_search`.
   */
  batcher?: SearchBatcher;
}

export interface EventReader {
  /**
   * Every event inside `window`, ordered by start instant then id, one page (array) at a time, each
   * event as the JSON text of its `EventSummary`. Stop iterating early and the underlying point in
   * time is released.
   */
  pages(window: SearchWindow): AsyncGenerator<string[], void, undefined>;
}

/** The stored period a bound is compared with: the wall clock (`period`) or `instants`. */
function fieldOf(bound: WindowBound): 'period' | 'instants' {
  return bound.kind === 'wall' ? 'period' : 'instants';
}

/** `instants` are mapped `epoch_millis`: an instant is sent as its milliseconds. */
function valueOf(bound: WindowBound): string {
  return bound.kind === 'wall' ? bound.local : String(bound.ms);
}

/**
 * The Elasticsearch query for a window (exported for tests and the ADR): `within` on the field of
 * each bound; a window with one bound of each kind is two `within` queries with one open side each.
 */
export function windowQuery(window: SearchWindow): estypes.QueryDslQueryContainer {
  const filter: estypes.QueryDslQueryContainer[] = [{ term: { ever_online: true } }];
  const { startsAt, endsAt } = window;
  if (startsAt === null && endsAt === null) {
    filter.push({ exists: { field: 'period' } });
    return { bool: { filter } };
  }
  const ranges = new Map<'period' | 'instants', estypes.QueryDslDateRangeQuery>();
  const rangeOn = (bound: WindowBound) => {
    const field = fieldOf(bound);
    let range = ranges.get(field);
    if (!range) {
      range = { relation: 'within' };
      ranges.set(field, range);
    }
    return range;
  };
  if (startsAt !== null) rangeOn(startsAt).gte = valueOf(startsAt);
  if (endsAt !== null) rangeOn(endsAt).lte = valueOf(endsAt);
  for (const [field, range] of ranges) filter.push({ range: { [field]: range } });
  return { bool: { filter } };
}

/**
 * The stored response objects: ready-made JSON, or (an index before version 3, read during its
 * migration, docs/adr/0015-*.md) an object.
 */
const SOURCE = ['summary_json', 'summary'];
const SUMMARIES = SOURCE.map((field) => `hits.hits._source.${field}`);
/** `filter_path` of a search: the summaries, the sort values and the point in time, nothing else. */
const FILTER_PATH = [...SUMMARIES, 'hits.hits.sort', 'pit_id'];
/**
 * `filter_path` of the first request: the summaries only. Its sort values would be a fifth of the
 * bytes Elasticsearch sends and the client parses, for nothing: a full first page is asked again
 * from a point in time (below).
 */
export const FIRST_FILTER_PATH = SUMMARIES;

/** The hits of a filtered response (`filter_path` drops `hits` entirely when there are none). */
function hitsOf<T>(res: estypes.SearchResponse<T>): estypes.SearchHit<T>[] {
  return (res as Partial<estypes.SearchResponse<T>>).hits?.hits ?? [];
}

/**
 * By start instant, then id (a total order, for search_after). `starts_at` between them orders two
 * events of one instant by wall clock, and alone orders an index of an earlier mapping version,
 * which has no instants (during the migration, docs/adr/0015-*.md), as that version did.
 */
export const SORT: estypes.SortCombinations[] = [
  { starts_at_instant: { order: 'asc', unmapped_type: 'date' } },
  { starts_at: 'asc' },
  { id: 'asc' },
];

interface SummarySource {
  summary_json?: string;
  summary?: EventSummary;
}

export function createEventReader(
  client: Client,
  names: IndexNames,
  opts: EventReaderOptions = {},
): EventReader {
  const pageSize = opts.pageSize ?? 1_000;
  const keepAlive = opts.keepAlive ?? '30s';
  const observe = opts.observe ?? (() => undefined);
  const timeout = opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {};
  // The client's OpenTelemetry layer builds its attributes, a span and a context on every call,
  // even where the span would not be recorded (an unsampled request: ADR 0017): it runs only
  // inside a recording span, so a sampled request's trace still has its Elasticsearch spans.
  const traced = timeout;
  const untraced = { ...timeout, openTelemetry: { enabled: false } };

  async function timed<T>(operation: string, call: () => Promise<T>): Promise<T> {
    const started = process.hrtime.bigint();
    let failed = false;
    try {
      return await call();
    } catch (err) {
      failed = true;
      throw err;
    } finally {
      observe(operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
    }
  }

  function summaries(hits: estypes.SearchHit<SummarySource>[]): string[] {
    const out: string[] = [];
    for (const hit of hits) {
      const source = hit._source;
      const json = source?.summary_json ?? (source?.summary && JSON.stringify(source.summary));
      // A document without a summary is a writer bug; skipping it beats failing every search.
      if (json) out.push(json);
    }
    return out;
  }

  async function* pages(window: SearchWindow): AsyncGenerator<string[], void, undefined> {
    if (window.empty) return;
    const transport = isRecording() ? traced : untraced;
    const query = windowQuery(window);
    const body = { query, sort: SORT, size: pageSize, _source: SOURCE, track_total_hits: false };
    const common = {
      ...body,
      // Only what is served: Elasticsearch sends (and the client parses) far fewer bytes.
      filter_path: FILTER_PATH,
      // A shard that fails (its point-in-time context expired, a node restarted) is an error,
      // never a shorter page that would end the answer early as if it were complete.
      allow_partial_search_results: false,
    } satisfies estypes.SearchRequest;

    // Most windows fit in one page: ask once, without a point in time. Unsampled, batched with
    // the other windows asked in this turn; a sampled request's search is sent alone, with its span.
    const first =
      opts.batcher && transport === untraced
        ? await opts.batcher.search<SummarySource>({ index: names.eventsAlias, body })
        : await timed('search', () =>
            client.search<SummarySource>(
              { index: names.eventsAlias, ...common, filter_path: FIRST_FILTER_PATH },
              transport,
            ),
          );
    const firstHits = hitsOf(first);
    if (firstHits.length < pageSize) {
      const page = summaries(firstHits);
      if (page.length > 0) yield page;
      return;
    }

    // More than one page: read every page from one point in time, so an ingest run writing
    // meanwhile cannot make an event appear twice or go missing between pages. The first page is
    // asked again inside the snapshot before anything is handed out.
    // Throws BulkheadFullError (a fast 503) when this replica holds its maximum already.
    const release = opts.pits?.acquire() ?? (() => undefined);
    let opened: estypes.OpenPointInTimeResponse;
    try {
      opened = await timed('open_point_in_time', () =>
        client.openPointInTime({ index: names.eventsAlias, keep_alive: keepAlive }, transport),
      );
    } catch (err) {
      release();
      throw err;
    }
    let pitId = opened.id;
    try {
      let after: estypes.SortResults | undefined;
      for (;;) {
        const id = pitId;
        const res = await timed('search', () =>
          client.search<SummarySource>(
            {
              ...common,
              pit: { id, keep_alive: keepAlive },
              ...(after ? { search_after: after } : {}),
            },
            transport,
          ),
        );
        if (res.pit_id) pitId = res.pit_id;
        const hits = hitsOf(res);
        const page = summaries(hits);
        if (page.length > 0) yield page;
        const last = hits[hits.length - 1];
        if (hits.length < pageSize || !last?.sort) return;
        after = last.sort;
      }
    } finally {
      // Best effort: an unreleased point in time expires after `keepAlive` anyway.
      await client.closePointInTime({ id: pitId }, transport).catch(() => undefined);
      release();
    }
  }

  return { pages };
}
