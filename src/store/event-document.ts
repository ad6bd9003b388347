/**
 * The document mapper: what the events index stores for an event the ingester saw (see
 * src/store/indices.ts for the layout). The writer sends exactly these bodies; nothing else
 * builds a stored event.
 *
 * Each write is an `update` with `doc` + `upsert`, so no script is needed and the "ever online"
 * flag is only ever set, never cleared (docs/adr/0002-ever-online-and-rejected-events.md):
 * - a valid event: `doc` = its current fields (+ `ever_online: true` only when sold online);
 *   `upsert` = the full document with `first_seen_at` and `ever_online`.
 * - a rejected event with a known identity: `doc` = only `last_seen_at`, `last_run_id`,
 *   `last_rejection` (+ `ever_online: true` when sold online; its last good values stay); `upsert` = identity and bookkeeping without any
 *   date, so it can never match a search.
 */
import {
  periodOf,
  toSummary,
  type EventIdentity,
  type NormalisedEvent,
  type RejectionReason,
} from '../domain/event.js';
import type { EventDocument } from './indices.js';

/** Who wrote the document and when: the same for every event of one ingest run. */
export interface SeenBy {
  runId: string;
  /** UTC instant of the run (ISO 8601), written as first/last seen. */
  seenAt: string;
}

/** A rejected event as the ingester reports it. */
export interface Rejection {
  identity: EventIdentity;
  reason: RejectionReason;
  detail: string;
  /** The feed said `sell_mode="online"`. */
  online: boolean;
}

/** The partial update of an existing document and the document to create when there is none. */
export interface DocumentUpdate {
  doc: Partial<EventDocument>;
  upsert: EventDocument;
}

/**
 * The stored form of a valid event. Pure. `sightedOnline`: another copy in the same feed was sold
 * online (an online sighting counts, valid or not).
 */
export function acceptedEventUpdate(
  e: NormalisedEvent,
  seen: SeenBy,
  sightedOnline = false,
): DocumentUpdate {
  const online = e.sell_mode === 'online' || sightedOnline;
  const current = {
    id: e.id,
    provider: e.provider,
    base_event_id: e.base_event_id,
    event_id: e.event_id,
    title: e.title,
    sell_mode: e.sell_mode,
    organizer_company_id: e.organizer_company_id,
    starts_at: e.starts_at,
    ends_at: e.ends_at,
    period: periodOf(e),
    sell_from: e.sell_from,
    sell_to: e.sell_to,
    sold_out: e.sold_out,
    min_price: e.min_price,
    max_price: e.max_price,
    zone_count: e.zone_count,
    available_capacity: e.available_capacity,
    summary: toSummary(e),
    last_seen_at: seen.seenAt,
    last_run_id: seen.runId,
    last_rejection: null,
  } satisfies Partial<EventDocument>;
  return {
    doc: online ? { ...current, ever_online: true } : current,
    upsert: { ...current, ever_online: online, first_seen_at: seen.seenAt },
  };
}

/** The stored form of a rejected event (its last good values, if any, stay). Pure. */
export function rejectedEventUpdate(r: Rejection, seen: SeenBy): DocumentUpdate {
  const id = r.identity;
  const rejection = { reason: r.reason, detail: r.detail, run_id: seen.runId, at: seen.seenAt };
  const doc: Partial<EventDocument> = {
    last_seen_at: seen.seenAt,
    last_run_id: seen.runId,
    last_rejection: rejection,
  };
  // An online sighting counts, valid or not, on a new and on an existing document alike.
  if (r.online) doc.ever_online = true;
  return {
    doc,
    upsert: {
      id: id.id,
      provider: id.provider,
      base_event_id: id.base_event_id,
      event_id: id.event_id,
      title: id.title,
      sell_mode: id.sell_mode,
      ever_online: r.online,
      first_seen_at: seen.seenAt,
      last_seen_at: seen.seenAt,
      last_run_id: seen.runId,
      last_rejection: rejection,
    },
  };
}
