/**
 * The ingester's vocabulary between reading a feed and writing it: one `WriteOp` per event the
 * feed carried (produced by run.ts), staged as a `WriteItem` (its update as JSON, spool.ts) and
 * applied by writer.ts.
 */
import type { NormaliseResult, NormalisedEvent, RawEvent } from '../domain/event.js';
import {
  acceptedEventJson,
  rejectedEventJson,
  type Rejection,
  type SeenBy,
  type UpdateJson,
} from '../store/event-document.js';

/** What the ingester asks the writer to record. */
export type WriteOp =
  | {
      kind: 'event';
      event: NormalisedEvent;
      /** Another copy of the event in the same feed was sold online (docs/adr/0002-*.md). */
      sightedOnline?: boolean;
    }
  | ({ kind: 'rejected' } & Rejection);

/**
 * A write operation with its document update built, as JSON (docs/adr/0016-*.md): what the run
 * spools and the writer sends without parsing or serializing the documents again.
 */
export interface WriteItem {
  kind: WriteOp['kind'];
  /** The document's id (the event's identity). */
  id: string;
  /** The update already sets `ever_online` (this copy, or another one, was sold online). */
  online: boolean;
  json: UpdateJson;
}

/** Who writes and when: the same for every item of one run. */
export type WriteContext = SeenBy;

/**
 * The write operation of one event of the feed (`result` = normaliseEvent of `raw`), or null when
 * the event cannot even be identified (it is only counted).
 */
export function writeOpOf(raw: RawEvent, result: NormaliseResult): WriteOp | null {
  if (result.ok) return { kind: 'event', event: result.event };
  if (!result.identity) return null;
  return {
    kind: 'rejected',
    identity: result.identity,
    reason: result.reason,
    detail: result.detail,
    online: raw.sell_mode?.trim() === 'online',
  };
}

/** The item of an operation: its document update as the mapper builds it, as JSON. Pure. */
export function writeItemOf(op: WriteOp, ctx: WriteContext): WriteItem {
  if (op.kind === 'event') {
    const sighted = op.sightedOnline === true;
    return {
      kind: 'event',
      id: op.event.id,
      online: op.event.sell_mode === 'online' || sighted,
      json: acceptedEventJson(op.event, ctx, sighted),
    };
  }
  return {
    kind: 'rejected',
    id: op.identity.id,
    online: op.online,
    json: rejectedEventJson(op, ctx),
  };
}

/** Whether `item` is already a `WriteItem` (a writer is handed either). */
export function isWriteItem(item: WriteOp | WriteItem): item is WriteItem {
  return 'json' in item;
}
