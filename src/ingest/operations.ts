/**
 * The ingester's vocabulary between reading a feed and writing it: one `WriteOp` per event the
 * feed carried (produced by run.ts, staged by spool.ts, applied by writer.ts).
 */
import type { NormaliseResult, NormalisedEvent, RawEvent } from '../domain/event.js';
import type { Rejection, SeenBy } from '../store/event-document.js';

/** What the ingester asks the writer to record. */
export type WriteOp =
  | {
      kind: 'event';
      event: NormalisedEvent;
      /** Another copy of the event in the same feed was sold online (docs/adr/0002-*.md). */
      sightedOnline?: boolean;
    }
  | ({ kind: 'rejected' } & Rejection);

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
