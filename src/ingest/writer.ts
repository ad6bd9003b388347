/**
 * Writes events to `<prefix>-events` with the client's bulk helper (batched by size, bounded
 * concurrency). Every per-item failure is counted and reported through `onDrop`, never dropped
 * silently. The bodies come from the document mapper (src/store/event-document.ts).
 *
 * An update whose merged document equals the stored one is a no-op in Elasticsearch (`detect_noop`,
 * the default): nothing is re-indexed. The writer counts those apart, so a run knows whether it
 * changed anything (docs/adr/0013-change-driven-data.md).
 *
 * Each item is looked up first (its stored `content_hash`, `mget` by id; docs/adr/0016-*.md): an
 * unchanged document is not sent, a changed one is sent as an `update` (`doc` + `upsert`), and a
 * document that does not exist yet as a `create` of the whole document (the `upsert` alone: half
 * the bytes, and no get-then-merge in Elasticsearch). When the provider has no document at all
 * (its first run) there is nothing to look up. A `create` refused because the document exists
 * meanwhile (409) is sent again as the `update`, so the outcome is the one an update would have had.
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from '../store/client.js';
import {
  acceptedEventUpdate,
  hashedJson,
  rejectedEventUpdate,
  updateOfNewDocument,
  type DocumentUpdate,
  type HashedUpdateJson,
} from '../store/event-document.js';
import type { EventDocument } from '../store/indices.js';
import {
  isWriteItem,
  writeItemOf,
  type WriteContext,
  type WriteItem,
  type WriteOp,
} from './operations.js';

type UpdateAction = { update: estypes.BulkUpdateOperation };
type UpdateBody = DocumentUpdate;

/** How many times an update retries a version conflict (two runs writing the same event). */
export const RETRY_ON_CONFLICT = 5;

/** The bulk action and body of one item as an update (`doc` + `upsert`). Pure. */
export function buildEventUpdate(
  index: string,
  op: WriteOp,
  ctx: WriteContext,
): [UpdateAction, UpdateBody] {
  const body =
    op.kind === 'event'
      ? acceptedEventUpdate(op.event, ctx, op.sightedOnline)
      : rejectedEventUpdate(op, ctx);
  return [updateAction(index, body.upsert.id), body];
}

function updateAction(index: string, id: string): UpdateAction {
  return { update: { _index: index, _id: id, retry_on_conflict: RETRY_ON_CONFLICT } };
}

export interface BulkFailure {
  id: string | undefined;
  status: number;
  type: string | undefined;
  reason: string | undefined;
}

export interface WriteStats {
  /** Items handed to the writer. */
  items: number;
  /** Items Elasticsearch applied (changed or not), split by kind. */
  eventsWritten: number;
  rejectedWritten: number;
  /**
   * Items applied that Elasticsearch created or changed (not a no-op). Exact when no bulk request
   * had a refused item; otherwise an upper bound (the client counts no-ops only in error-free
   * responses), which errs on the side of "the data changed".
   */
  changed: number;
  /** Items not sent: the stored document already holds what they would write (same hash). */
  unchanged: number;
  /** Items sent as a `create` (no document yet), including those sent again as an update. */
  created: number;
  /** Items not applied: refused per item, or lost with a whole bulk request that failed. */
  failures: number;
  /** The first few per-item failures, for the log and the run's error message. */
  sampleFailures: BulkFailure[];
  /** A whole-request failure (Elasticsearch unreachable...) that stopped the writer. */
  error: Error | null;
  bytes: number;
  timeMs: number;
}

export interface EventWriterOptions {
  client: Client;
  /** The events alias (its write index receives the documents). */
  index: string;
  context: WriteContext;
  /**
   * The provider every item belongs to: when the index holds no document of it (its first run),
   * no item is looked up, each is created (docs/adr/0016-*.md). Absent: every item is looked up.
   */
  provider?: string;
  /** Send a bulk request once this many bytes are queued (default 2 MB, as INGEST_BULK_FLUSH_BYTES). */
  flushBytes?: number;
  /** Bulk requests in flight at once (default 2). */
  concurrency?: number;
  /** Retries of items Elasticsearch answered 429 for, and the wait between them (ms). */
  retries?: number;
  wait?: number;
  /** Refresh the index when done so the new state is searchable at once (default true). */
  refresh?: boolean;
  /** Called for every item Elasticsearch refused. */
  onFailure?: (failure: BulkFailure) => void;
}

const SAMPLE_FAILURES = 5;

/** An item to send: `create` when its document does not exist yet, else `update`. */
interface Pending {
  action: 'create' | 'update';
  id: string;
  rejected: boolean;
  update: HashedUpdateJson;
}

/** What the bulk helper is given per item: its action and body. */
type BulkItem = Pending | { action: 'retry'; id: string; update: DocumentUpdate };

type BulkAction = { create: estypes.BulkCreateOperation } | { update: estypes.BulkUpdateOperation };

/** The id of a refused item's action (create or update). */
function idOf(operation: unknown): string | undefined {
  const action = operation as { update?: { _id?: string }; create?: { _id?: string } };
  return action.update?._id ?? action.create?._id;
}

/** A per-item failure into a BulkFailure. */
function describeDrop(drop: {
  status: number;
  error: estypes.ErrorCause | null;
  operation: unknown;
}): BulkFailure {
  return {
    id: idOf(drop.operation),
    status: drop.status,
    type: drop.error?.type,
    reason: drop.error?.reason ?? undefined,
  };
}

/** A refused item's document is a rejected event's (created whole, or as an update's parts). */
function isRejected(document: unknown): boolean {
  const d = document as (Partial<EventDocument> & { doc?: Partial<EventDocument> }) | undefined;
  return Boolean(d?.doc?.last_rejection ?? d?.last_rejection);
}

/** Items whose stored hashes are read in one `mget`. */
const LOOKUP_BATCH = 1_000;

/**
 * Decides each item's action: dropped when its stored document already holds what it would write
 * (the stored `content_hash` equals its own, read by id in batches; docs/adr/0013-*.md), `update`
 * when the document exists, `create` when it does not. `lookUp` false: the provider has no
 * document, every item is created without a lookup. A failed lookup throws, which stops the
 * writer like a failed bulk request.
 */
async function* decided(
  items: AsyncIterable<Pending>,
  options: Pick<EventWriterOptions, 'client' | 'index'>,
  lookUp: () => Promise<boolean>,
  onUnchanged: () => void,
): AsyncGenerator<Pending> {
  let batch: Pending[] = [];
  let known: boolean | null = null;
  async function* changedOf(pending: Pending[]): AsyncGenerator<Pending> {
    known ??= await lookUp();
    if (!known) {
      yield* pending;
      return;
    }
    const res = await options.client.mget<Pick<EventDocument, 'content_hash'>>({
      index: options.index,
      ids: pending.map((item) => item.id),
      _source_includes: ['content_hash'],
    });
    for (const [i, item] of pending.entries()) {
      const stored = res.docs[i];
      const found = stored !== undefined && 'found' in stored && stored.found;
      if (found && stored._source?.content_hash === item.update.content_hash) {
        onUnchanged();
        continue;
      }
      item.action = found ? 'update' : 'create';
      yield item;
    }
  }
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= LOOKUP_BATCH) {
      yield* changedOf(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield* changedOf(batch);
}

/** The bulk action and body of an item (a `create` body is sent as it is: JSON already). */
function bulkOf(index: string, item: BulkItem): [BulkAction, string | DocumentUpdate] {
  if (item.action === 'create') {
    return [{ create: { _index: index, _id: item.id } }, item.update.upsert];
  }
  if (item.action === 'retry') return [updateAction(index, item.id), item.update];
  const { doc, upsert } = item.update;
  return [
    updateAction(index, item.id),
    { doc: JSON.parse(doc) as Partial<EventDocument>, upsert: JSON.parse(upsert) as EventDocument },
  ];
}

/** What one pass of the bulk helper did. */
interface PassResult {
  successful: number;
  noop: number;
  bytes: number;
  /** Items refused (other than the creates to send again), by kind. */
  droppedEvents: number;
  droppedRejected: number;
  /** Creates refused because the document exists: their documents, to send as updates. */
  conflicts: EventDocument[];
  error: Error | null;
}

/**
 * Writes every item of `ops` (pulled lazily: the bulk helper reads the next item only when it has
 * room). Never throws for Elasticsearch failures: they are returned in the stats.
 */
export async function writeEvents(
  ops: AsyncIterable<WriteOp | WriteItem>,
  options: EventWriterOptions,
): Promise<WriteStats> {
  const stats: WriteStats = {
    items: 0,
    eventsWritten: 0,
    rejectedWritten: 0,
    changed: 0,
    unchanged: 0,
    created: 0,
    failures: 0,
    sampleFailures: [],
    error: null,
    bytes: 0,
    timeMs: 0,
  };
  let events = 0;
  let rejected = 0;
  const started = Date.now();

  async function* counted(): AsyncGenerator<Pending> {
    for await (const op of ops) {
      stats.items++;
      const item = isWriteItem(op) ? op : writeItemOf(op, options.context);
      if (item.kind === 'event') events++;
      else rejected++;
      yield {
        action: 'create',
        id: item.id,
        rejected: item.kind === 'rejected',
        update: hashedJson(item.json),
      };
    }
  }
  const lookUp = async () => {
    if (options.provider === undefined) return true;
    const { count } = await options.client.count({
      index: options.index,
      query: { term: { provider: options.provider } },
    });
    return count > 0;
  };
  async function* sent(): AsyncGenerator<BulkItem> {
    for await (const item of decided(counted(), options, lookUp, () => stats.unchanged++)) {
      if (item.action === 'create') stats.created++;
      yield item;
    }
  }

  const first = await pass(sent(), options, stats);
  // Creates refused because the document was created meanwhile: sent again as updates.
  const again: PassResult | null =
    first.conflicts.length > 0 && !first.error
      ? await pass(
          (async function* () {
            for (const document of first.conflicts) {
              yield {
                action: 'retry' as const,
                id: document.id,
                update: updateOfNewDocument(document),
              };
            }
          })(),
          options,
          stats,
        )
      : null;
  const passes = again ? [first, again] : [first];
  const sum = (f: (p: PassResult) => number) => passes.reduce((n, p) => n + f(p), 0);
  const droppedEvents = sum((p) => p.droppedEvents);
  const droppedRejected = sum((p) => p.droppedRejected);
  // Conflicts not sent again (the first pass failed as a whole) count as failures below.
  const successful = sum((p) => p.successful);
  stats.bytes = sum((p) => p.bytes);
  stats.changed = successful - sum((p) => p.noop);
  stats.error = first.error ?? again?.error ?? null;
  if (stats.error === null) {
    stats.eventsWritten = events - droppedEvents;
    stats.rejectedWritten = rejected - droppedRejected;
    stats.failures = droppedEvents + droppedRejected;
  } else {
    // A whole request failed: the helper stops. What it had applied stays; everything else
    // counts as a failure (successes are known only in total, so attribute them to events first).
    const ok = successful + stats.unchanged;
    stats.failures = stats.items - ok;
    stats.eventsWritten = Math.min(ok, events);
    stats.rejectedWritten = ok - stats.eventsWritten;
  }
  stats.timeMs = Date.now() - started;
  return stats;
}

/** The fields of a bulk answer the bulk helper reads (`filter_path`). */
export const BULK_RESPONSE_FIELDS = 'errors,items.*.status,items.*.error,items.*.result';

/** One run of the bulk helper over `items`. */
async function pass(
  items: AsyncGenerator<BulkItem>,
  options: EventWriterOptions,
  stats: WriteStats,
): Promise<PassResult> {
  const result: PassResult = {
    successful: 0,
    noop: 0,
    bytes: 0,
    droppedEvents: 0,
    droppedRejected: 0,
    conflicts: [],
    error: null,
  };
  const helper = options.client.helpers.bulk<BulkItem>({
    datasource: items,
    onDocument: (item) => bulkOf(options.index, item) as never,
    flushBytes: options.flushBytes ?? 2_000_000,
    concurrency: options.concurrency ?? 2,
    retries: options.retries ?? 3,
    wait: options.wait ?? 1_000,
    refreshOnCompletion: options.refresh === false ? false : options.index,
    // Only what the helper reads of each item's answer (its status, error and result, in order):
    // Elasticsearch neither builds nor sends, and the client neither receives nor parses, the
    // rest (index, id, version, shards, sequence numbers: about 200 bytes an item).
    filter_path: BULK_RESPONSE_FIELDS,
    onDrop: (drop) => {
      const created = (drop.operation as { create?: unknown }).create !== undefined;
      if (created && drop.status === 409) {
        result.conflicts.push(drop.document as unknown as EventDocument);
        return;
      }
      const failure = describeDrop(drop);
      if (isRejected(drop.document)) result.droppedRejected++;
      else result.droppedEvents++;
      if (stats.sampleFailures.length < SAMPLE_FAILURES) stats.sampleFailures.push(failure);
      options.onFailure?.(failure);
    },
  });
  try {
    const done = await helper;
    result.successful = done.successful;
    result.noop = done.noop;
    result.bytes = done.bytes;
  } catch (err) {
    result.error = err instanceof Error ? err : new Error(String(err));
    result.successful = helper.stats.successful;
    result.noop = helper.stats.noop;
    result.bytes = helper.stats.bytes;
  }
  return result;
}
