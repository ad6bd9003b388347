/**
 * Writes events to `<prefix>-events` with the client's bulk helper (batched by size, bounded
 * concurrency). Every per-item failure is counted and reported through `onDrop`, never dropped
 * silently. The bodies come from the document mapper (src/store/event-document.ts).
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
  /** Items Elasticsearch applied, split by kind. */
  eventsWritten: number;
  rejectedWritten: number;
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

  async function* counted(): AsyncGenerator<WriteOp> {
    for await (const op of ops) {
      stats.items++;
      if (op.kind === 'event') events++;
      else rejected++;
      yield op;
    }
  }

  const helper = options.client.helpers.bulk<WriteOp>({
    datasource: counted(),
    onDocument: (op) => buildEventUpdate(options.index, op, options.context),
    flushBytes: options.flushBytes ?? 2_000_000,
    concurrency: options.concurrency ?? 2,
    retries: options.retries ?? 3,
    wait: options.wait ?? 1_000,
    refreshOnCompletion: options.refresh === false ? false : options.index,
    onDrop: (drop) => {
      const failure = describeDrop(drop);
      const body = drop.document as unknown as Partial<UpdateBody> | undefined;
      // A rejected item's doc carries a last_rejection object; a valid event's carries null.
      if (body?.doc?.last_rejection) droppedRejected++;
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
  } catch (err) {
    // A whole request failed: the helper stops. What it had applied stays; everything else
    // counts as a failure (successes are known only in total, so attribute them to events first).
    stats.error = err instanceof Error ? err : new Error(String(err));
    const ok = helper.stats.successful;
    stats.failures = stats.items - ok;
    stats.eventsWritten = Math.min(ok, events);
    stats.rejectedWritten = ok - stats.eventsWritten;
    stats.bytes = helper.stats.bytes;
  }
  stats.timeMs = Date.now() - started;
  return stats;
}
