/**
 * Concurrent searches sent as one `_msearch` (docs/adr/0017-*.md, fifth addendum): under load many
 * cache misses are in flight at once, and each used to be its own HTTP request to Elasticsearch
 * (the client's transport, undici, the socket writes on both sides, Elasticsearch's own handling of
 * a request). The searches asked in one turn of the event loop (up to `maxBatch`) go as one request.
 *
 * - **No wait.** A batch is sent in the check phase of the turn that asked its first search
 *   (`setImmediate`): a lone search leaves in the same turn, as a plain `_search`, exactly the
 *   request, metric and error it was before. Under load the searches that a turn's I/O callbacks
 *   start (the slots an answered batch frees are taken again in the same turn) form the next batch.
 * - **The same answers.** Every search keeps its index, query, sort, size and `_source`; each
 *   carries `allow_partial_search_results: false` in its header; `filter_path` keeps the same
 *   fields of each response, plus each item's `status` and `error`.
 * - **The same errors.** A search that fails inside the batch (404, 429, 503, 400: the item's
 *   `error` and `status`) rejects with the `ResponseError` a `_search` answering that body and
 *   status throws, so src/store/errors.ts classifies it alike; the other searches of the batch are
 *   answered. A request that fails as a whole (refused connection, timeout) rejects every search of
 *   the batch with its error.
 *
 * Untraced: the searches of sampled requests are sent alone by the reader, with their spans.
 */
import DataLoader from 'dataloader';
import { errors, type estypes } from '@elastic/elasticsearch';
import type { Client } from '../../store/client.js';
import type { StoreObserver } from './event-reader.js';

/** One search: where, and its body (query, sort, size, `_source`...). */
export interface BatchedSearch {
  index: string;
  body: estypes.SearchSearchRequestBody;
}

export interface SearchBatcherOptions {
  /** `filter_path` of each search's response (the msearch's is derived from it). */
  filterPath: string[];
  /** Most searches in one `_msearch` (1: every search alone). */
  maxBatch: number;
  /** Timeout of each request (the whole batch), in ms. */
  requestTimeoutMs?: number;
  /** Called once per request: `search` for a lone search, `msearch` for a batch. */
  observe?: StoreObserver;
}

export interface SearchBatcher {
  /** The response of `search`, as a `_search` with the batcher's `filter_path` would answer it. */
  search<T>(search: BatchedSearch): Promise<estypes.SearchResponse<T>>;
}

/** An item of a filtered `_msearch` response: its hits, or its error; its status either way. */
type Item = { status?: number; error?: estypes.ErrorCause };

export function createSearchBatcher(client: Client, opts: SearchBatcherOptions): SearchBatcher {
  const observe = opts.observe ?? (() => undefined);
  const transport = {
    ...(opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {}),
    openTelemetry: { enabled: false },
  };
  const itemFilterPath = [
    ...opts.filterPath.map((path) => `responses.${path}`),
    'responses.status',
    'responses.error',
  ];

  async function timed<T>(operation: string, call: () => Promise<[T, boolean]>): Promise<T> {
    const started = process.hrtime.bigint();
    let failed = true;
    try {
      const [result, itemFailed] = await call();
      failed = itemFailed;
      return result;
    } finally {
      observe(operation, Number(process.hrtime.bigint() - started) / 1e9, failed);
    }
  }

  async function alone(search: BatchedSearch): Promise<unknown[]> {
    const res = await timed('search', async () => [
      await client.search(
        {
          index: search.index,
          ...search.body,
          filter_path: opts.filterPath,
          allow_partial_search_results: false,
        },
        transport,
      ),
      false,
    ]);
    return [res];
  }

  async function batch(searches: readonly BatchedSearch[]): Promise<unknown[]> {
    const [only] = searches;
    if (searches.length === 1 && only) return alone(only);
    const lines: estypes.MsearchRequestItem[] = [];
    for (const { index, body } of searches) {
      lines.push({ index, allow_partial_search_results: false }, body);
    }
    return timed('msearch', async () => {
      const res = await client.msearch(
        { searches: lines, filter_path: itemFilterPath },
        { ...transport, meta: true },
      );
      const items = (res.body as { responses?: Item[] }).responses ?? [];
      let failed = false;
      const answers = searches.map((_, i): unknown => {
        const item = items[i];
        if (item === undefined) {
          failed = true;
          return new Error(`_msearch answered ${items.length} responses for ${searches.length}`);
        }
        if (item.error === undefined && (item.status ?? 200) < 400) return item;
        failed = true;
        // The error a `_search` answering this body and status throws (the transport's).
        return new errors.ResponseError({ ...res, body: item, statusCode: item.status ?? 500 });
      });
      return [answers, failed];
    });
  }

  const loader = new DataLoader<BatchedSearch, unknown>(batch, {
    cache: false,
    maxBatchSize: Math.max(1, opts.maxBatch),
    batchScheduleFn: (send) => setImmediate(send),
  });

  return {
    search: <T>(search: BatchedSearch) => loader.load(search) as Promise<estypes.SearchResponse<T>>,
  };
}
