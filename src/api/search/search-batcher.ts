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
 * - **Traces.** A search asked inside a recording span (a sampled request's) joins the batch too
 *   (ADR 0017, sixth addendum): alone, it is the client's own `search` span, as before; in a
 *   batch, it gets a CLIENT span of ours named `msearch`, a child of that request's span, with the
 *   attribute names of the client's span (`db.system`, `db.operation.name`, `db.collection.name`,
 *   `db.response.status_code`, `server.address`...) and `db.operation.batch.size`, failed when its
 *   item failed. The `_msearch` request itself is sent untraced.
 */
import DataLoader from 'dataloader';
import { errors, type estypes } from '@elastic/elasticsearch';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import type { Client } from '../../store/client.js';
import { tracer } from '../../observability/spans.js';
import type { StoreObserver } from './event-reader.js';

/** One search: where, and its body (query, sort, size, `_source`...). */
export interface BatchedSearch {
  index: string;
  body: estypes.SearchSearchRequestBody;
}

/** A search as the loader holds it: with the context of the sampled request that asked it. */
interface Queued extends BatchedSearch {
  /** The active context when it was asked, if it had a recording span; else undefined. */
  trace: Context | undefined;
}

/** Where the `_msearch` requests run: nothing starts a span for them (the searches have theirs). */
const UNTRACED = suppressTracing(ROOT_CONTEXT);

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

/**
 * The batch bound when none is configured: a third of the query slots, rounded up (6 of 16). A
 * batch that takes every slot runs in lock-step: Elasticsearch idles while the API answers the
 * whole batch, then the API idles while Elasticsearch runs the next; with about three batches in
 * flight each side always has work (docs/adr/0017-*.md, seventh addendum).
 */
export function defaultMaxBatch(querySlots: number): number {
  return Math.max(1, Math.ceil(querySlots / 3));
}

export function createSearchBatcher(client: Client, opts: SearchBatcherOptions): SearchBatcher {
  const observe = opts.observe ?? (() => undefined);
  const timeout = opts.requestTimeoutMs ? { requestTimeout: opts.requestTimeoutMs } : {};
  const transport = { ...timeout, openTelemetry: { enabled: false } };
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

  /** A plain `_search`; a sampled request's gets the client's span, in that request's trace. */
  async function alone(search: Queued): Promise<unknown[]> {
    const params = {
      index: search.index,
      ...search.body,
      filter_path: opts.filterPath,
      allow_partial_search_results: false,
    };
    const res = await timed('search', async () => [
      search.trace
        ? await context.with(search.trace, () => client.search(params, timeout))
        : await client.search(params, transport),
      false,
    ]);
    return [res];
  }

  async function batch(searches: readonly Queued[]): Promise<unknown[]> {
    const [only] = searches;
    if (searches.length === 1 && only) return alone(only);
    const lines: estypes.MsearchRequestItem[] = [];
    for (const { index, body } of searches) {
      lines.push({ index, allow_partial_search_results: false }, body);
    }
    const spans = searches.map((search) =>
      search.trace ? msearchSpan(search, searches.length) : undefined,
    );
    let answers: unknown[] | undefined;
    try {
      answers = await timed('msearch', async () => {
        const res = await context.with(UNTRACED, () =>
          client.msearch(
            { searches: lines, filter_path: itemFilterPath },
            { ...transport, meta: true },
          ),
        );
        const items = (res.body as { responses?: Item[] }).responses ?? [];
        let failed = false;
        const results = searches.map((_, i): unknown => {
          const item = items[i];
          const span = spans[i];
          if (span) answered(span, res, item?.status);
          if (item === undefined) {
            failed = true;
            return new Error(`_msearch answered ${items.length} responses for ${searches.length}`);
          }
          if (item.error === undefined && (item.status ?? 200) < 400) return item;
          failed = true;
          // The error a `_search` answering this body and status throws (the transport's).
          return new errors.ResponseError({ ...res, body: item, statusCode: item.status ?? 500 });
        });
        return [results, failed];
      });
      return answers;
    } catch (err) {
      // The request failed whole (refused connection, timeout): every search of it failed.
      const meta = (err as { meta?: Partial<MsearchResult> }).meta;
      if (meta) for (const span of spans) if (span) answered(span, meta, meta.statusCode);
      answers = searches.map(() => err);
      throw err;
    } finally {
      spans.forEach((span, i) => {
        if (!span) return;
        const result = answers?.[i];
        if (result instanceof Error) failedSpan(span, result);
        span.end();
      });
    }
  }

  const loader = new DataLoader<Queued, unknown>(batch, {
    cache: false,
    maxBatchSize: Math.max(1, opts.maxBatch),
    batchScheduleFn: (send) => setImmediate(send),
  });

  return {
    search: <T>(search: BatchedSearch) => {
      const active = context.active();
      const recording = trace.getSpan(active)?.isRecording() === true;
      return loader.load({
        ...search,
        trace: recording ? active : undefined,
      }) as Promise<estypes.SearchResponse<T>>;
    },
  };
}

/** What an `_msearch` answered (or a failed one's `meta`): its status and connection. */
type MsearchResult = { statusCode?: number | null; meta?: { connection?: { url: URL } | null } };

/**
 * The span of a sampled request's search sent in a batch: the attribute names of the client's
 * own span (`@elastic/transport`'s OpenTelemetry middleware), a child of the request's span.
 */
function msearchSpan(search: Queued, size: number): Span {
  return tracer().startSpan(
    'msearch',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'db.system': 'elasticsearch',
        'http.request.method': 'POST',
        'db.operation.name': 'msearch',
        'db.collection.name': search.index,
        'db.operation.batch.size': size,
      },
    },
    search.trace,
  );
}

/** The response's attributes, as the client's span gets them: this search's status, the node. */
function answered(span: Span, res: MsearchResult, status: number | null | undefined): void {
  if (status !== undefined && status !== null && status > 0) {
    span.setAttribute('db.response.status_code', String(status));
  }
  const url = res.meta?.connection?.url;
  if (url) {
    span.setAttributes({
      'url.full': `${url.origin}${url.pathname}`,
      'server.address': url.hostname,
      'server.port': url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
    });
  }
}

/** As the client marks its span when its call throws. */
function failedSpan(span: Span, err: Error): void {
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute('error.type', err.name);
}
