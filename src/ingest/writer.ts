/**
 * Writes events to `<prefix>-events` with the client's bulk helper (batched by size, bounded
 * concurrency). Every per-item failure is counted and reported through `onDrop`, never dropped
 * silently. The bodies come from the document mapper (src/store/event-document.ts).
 *
 * An update whose merged document equals the stored one is a no-op in Elasticsearch (`detect_noop`,
 * the default): nothing is re-indexed. The writer counts those apart, so a run knows whether it
 * changed anything (docs/adr/0013-change-driven-data.md).
 */
import type { estypes } from '@elastic/elasticsearch';
import type { Client } from '../store/client.js';
import {
  acceptedEventUpdate,
  rejectedEventUpdate,
  type DocumentUpdate,
} from '../store/event-document.js';
import type { WriteContext, WriteOp } from './operations.js';

type UpdateAction = { update: estypes.BulkUpdateOperation };
type UpdateBody = DocumentUpdate;

/** How many times an update retries a version conflict (two runs writing the same event). */
export const RETRY_ON_CONFLICT = 5;

/** The bulk action and body of one item. Pure. */
export function buildEventUpdate(
  index: string,
  op: WriteOp,
  ctx: WriteContext,
): [UpdateAction, UpdateBody] {
  const body =
    op.kind === 'event'
      ? acceptedEventUpdate(op.event, ctx, op.sightedOnline)
      : rejectedEventUpdate(op, ctx);
  return [
    { update: { _index: index, _id: body.upsert.id, retry_on_conflict: RETRY_ON_CONFLICT } },
    body,
  ];
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

/** A per-item failure into a BulkFailure; the kind tells which counter it belongs to. */
function describeDrop(drop: {
  status: number;
  error: estypes.ErrorCause | null;
  operation: unknown;
}): BulkFailure {
  const action = drop.operation as { update?: { _id?: string } };
  return {
    id: action.update?._id,
    status: drop.status,
    type: drop.error?.type,
    reason: drop.error?.reason ?? undefined,
  };
}

type BulkItem = [UpdateAction, UpdateBody];

/** Items whose stored hashes are read in one `mget`. */
const LOOKUP_BATCH = 1_000;

/**
 * Drops the items whose document already holds what they would write: the stored `content_hash`
 * equals theirs (read by id, in batches; docs/adr/0013-change-driven-data.md). A failed lookup
 * throws, which stops the writer like a failed bulk request.
 */
async function* withoutUnchanged(
  items: AsyncIterable<BulkItem>,
  options: Pick<EventWriterOptions, 'client' | 'index'>,
  onUnchanged: () => void,
): AsyncGenerator<BulkItem> {
  let batch: BulkItem[] = [];
  async function changedOf(pending: BulkItem[]): Promise<BulkItem[]> {
    const res = await options.client.mget<Pick<UpdateBody['upsert'], 'content_hash'>>({
      index: options.index,
      ids: pending.map(([action]) => action.update._id as string),
      _source_includes: ['content_hash'],
    });
    return pending.filter(([, body], i) => {
      const stored = res.docs[i];
      const same =
        stored !== undefined &&
        'found' in stored &&
        stored.found &&
        stored._source?.content_hash === body.doc.content_hash;
      if (same) onUnchanged();
      return !same;
    });
  }
  for await (const item of items) {
    batch.push(item);
    if (batch.length >= LOOKUP_BATCH) {
      yield* await changedOf(batch);
      batch = [];
    }
  }
  if (batch.length > 0) yield* await changedOf(batch);
}

/** A rejected item's doc carries a last_rejection object; a valid event's carries null. */
function isRejected(document: unknown): boolean {
  return Boolean((document as Partial<UpdateBody> | undefined)?.doc?.last_rejection);
}

/**
 * Writes every item of `ops` (pulled lazily: the bulk helper reads the next item only when it has
 * room). Never throws for Elasticsearch failures: they are returned in the stats.
 */
export async function writeEvents(
  ops: AsyncIterable<WriteOp>,
  options: EventWriterOptions,
): Promise<WriteStats> {
  const stats: WriteStats = {
    items: 0,
    eventsWritten: 0,
    rejectedWritten: 0,
    changed: 0,
    unchanged: 0,
    failures: 0,
    sampleFailures: [],
    error: null,
    bytes: 0,
    timeMs: 0,
  };
  let events = 0;
  let rejected = 0;
  let droppedEvents = 0;
  let droppedRejected = 0;
  const started = Date.now();

  let unchanged = 0;

  async function* counted(): AsyncGenerator<BulkItem> {
    for await (const op of ops) {
      stats.items++;
      if (op.kind === 'event') events++;
      else rejected++;
      yield buildEventUpdate(options.index, op, options.context);
    }
  }

  const helper = options.client.helpers.bulk<BulkItem>({
    datasource: withoutUnchanged(counted(), options, () => unchanged++),
    onDocument: (item) => item,
    flushBytes: options.flushBytes ?? 2_000_000,
    concurrency: options.concurrency ?? 2,
    retries: options.retries ?? 3,
    wait: options.wait ?? 1_000,
    refreshOnCompletion: options.refresh === false ? false : options.index,
    onDrop: (drop) => {
      const failure = describeDrop(drop);
      if (isRejected(drop.document)) droppedRejected++;
      else droppedEvents++;
      if (stats.sampleFailures.length < SAMPLE_FAILURES) stats.sampleFailures.push(failure);
      options.onFailure?.(failure);
    },
  });

  try {
    const result = await helper;
    stats.bytes = result.bytes;
    stats.eventsWritten = events - droppedEvents;
    stats.rejectedWritten = rejected - droppedRejected;
    stats.failures = droppedEvents + droppedRejected;
    stats.changed = result.successful - result.noop;
    stats.unchanged = unchanged;
  } catch (err) {
    // A whole request failed: the helper stops. What it had applied stays; everything else
    // counts as a failure (successes are known only in total, so attribute them to events first).
    stats.error = err instanceof Error ? err : new Error(String(err));
    const ok = helper.stats.successful + unchanged;
    stats.unchanged = unchanged;
    stats.failures = stats.items - ok;
    stats.eventsWritten = Math.min(ok, events);
    stats.rejectedWritten = ok - stats.eventsWritten;
    stats.bytes = helper.stats.bytes;
    stats.changed = helper.stats.successful - helper.stats.noop;
  }
  stats.timeMs = Date.now() - started;
  return stats;
}
