/**
 * The document mapper: what the events index stores for an event the ingester saw (see
 * src/store/indices.ts for the layout). The writer sends exactly these bodies; nothing else
 * builds a stored event.
 *
 * Each write is an `update` with `doc` + `upsert`, so no script is needed and the "ever online"
 * flag is only ever set, never cleared (docs/adr/0002-ever-online-and-rejected-events.md):
 * - a valid event: `doc` = its current fields (+ `ever_online: true` only when sold online);
 *   `upsert` = the full document with `first_seen_at`, `last_run_id` and `ever_online`.
 * - a rejected event with a known identity: `doc` = only `last_seen_at` and `last_rejection`
 *   (+ `ever_online: true` when sold online; its last good values stay); `upsert` = identity and
 *   bookkeeping without any date, so it can never match a search.
 *
 * Change-driven (docs/adr/0013-change-driven-data.md): a `doc` carries nothing that differs from
 * one run to the next when the feed did not change, so Elasticsearch's no-op detection
 * (`detect_noop`, on by default) skips the re-index of an unchanged event. `last_seen_at` is
 * therefore the UTC *day* of the sighting (it moves once a day), the run id is written only when
 * the document is created, and a rejection records the day it was (last) seen, not the run.
 */
import {
  periodOf,
  toSummary,
  type EventIdentity,
  type NormalisedEvent,
  type RejectionReason,
} from '../domain/event.js';
import { instantOf, type LocalDateTime } from '../domain/local-time.js';
import { hash } from 'node:crypto';
import { EVENTS_MAPPING_VERSION, type EventDocument } from './indices.js';

/** Who wrote the document and when: the same for every event of one ingest run. */
export interface SeenBy {
  runId: string;
  /** UTC instant of the run (ISO 8601), written as first seen (and, to the day, as last seen). */
  seenAt: string;
  /**
   * The IANA zone of the provider's wall-clock times (`PROVIDER_TIMEZONE` of the run), stored with
   * each event and used to compute its period as instants (docs/adr/0004-*.md).
   */
  timeZone: string;
  /**
   * The events mapping version to write for (default: this code's). Before 3 a document has no
   * zone and no instants: only tests write so, to build an earlier release's index to migrate.
   */
  mappingVersion?: number;
}

/** The fields a period in wall-clock time adds in `zone` (docs/adr/0004-*.md). Pure. */
export function timeFieldsOf(
  period: { gte: string; lte: string | null },
  zone: string,
): Pick<EventDocument, 'timezone' | 'instants' | 'starts_at_instant'> {
  const gte = instantOf(period.gte as LocalDateTime, zone);
  const lte = period.lte === null ? null : instantOf(period.lte as LocalDateTime, zone);
  return { timezone: zone, instants: { gte, lte }, starts_at_instant: gte };
}

/**
 * A document of an earlier events index (v1, v2: no zone, no instants, the summary an object rather
 * than ready-made JSON) as the current version
 * stores it, its instants computed with `zone`, its provider's (the migration, src/ingest/migrate-events.ts).
 * A document without a period (an event only ever rejected) has no instants either. Pure.
 */
export function upgradedDocument(old: EventDocument, zone: string): EventDocument {
  const { summary, ...rest } = old;
  // The stored object's keys keep their order, so the string is the one a run writes today.
  const current = summary ? { ...rest, summary_json: JSON.stringify(summary) } : rest;
  if (!old.period) return current;
  return { ...current, ...timeFieldsOf(old.period, zone) };
}

/**
 * The response object as stored: ready-made JSON from version 3 on (the reader splices it into the
 * answer, docs/adr/0017-*.md), an object before. Pure.
 */
function summaryFieldOf(
  e: NormalisedEvent,
  version: number,
): Pick<EventDocument, 'summary_json' | 'summary'> {
  const summary = toSummary(e);
  return version >= 3 ? { summary_json: JSON.stringify(summary) } : { summary };
}

/** The UTC day of an instant, as stored in `last_seen_at` (ISO 8601 at midnight UTC). Pure. */
export function seenDayOf(seenAt: string): string {
  return `${seenAt.slice(0, 10)}T00:00:00.000Z`;
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

/** The hash of a `doc` as JSON: what `content_hash` stores (docs/adr/0013-change-driven-data.md). */
function contentHashOf(docJson: string): string {
  return hash('sha1', docJson, 'base64url');
}

/**
 * The document update with `content_hash` (a hash of the `doc`) in both parts: a later sighting
 * whose `doc` has the same hash would change nothing, so the writer skips it without sending it
 * (docs/adr/0013-change-driven-data.md). Pure.
 */
function hashed([doc, upsert]: UpdateParts): DocumentUpdate {
  const content_hash = contentHashOf(JSON.stringify(doc));
  return { doc: { ...doc, content_hash }, upsert: { ...upsert, content_hash } };
}

/** The `doc` and the `upsert` of an update, before their hash. */
type UpdateParts = [doc: Partial<EventDocument>, upsert: EventDocument];

/**
 * An update as JSON, before its hash: what a run spools between reading the feed and writing it
 * (src/ingest/spool.ts), so the write phase neither parses nor serializes the documents again
 * (docs/adr/0016-*.md).
 */
export interface UpdateJson {
  /** JSON of the partial update of an existing document (no `content_hash`). */
  doc: string;
  /** JSON of the whole document, created when there is none (no `content_hash`). */
  upsert: string;
}

/** An update ready to send: `doc` and `upsert` as JSON, each with its `content_hash`. */
export interface HashedUpdateJson extends UpdateJson {
  content_hash: string;
}

function jsonOf([doc, upsert]: UpdateParts): UpdateJson {
  return { doc: JSON.stringify(doc), upsert: JSON.stringify(upsert) };
}

/** `{...object, key: value}` as JSON, from the JSON of a non-empty `object` without `key`. */
function appendedJson(objectJson: string, key: string, valueJson: string): string {
  return `${objectJson.slice(0, -1)},"${key}":${valueJson}}`;
}

/**
 * The update with its `content_hash`: the same JSON as `hashed` (the hash goes last in both
 * parts), built without parsing or serializing the documents again. Pure.
 */
export function hashedJson(json: UpdateJson): HashedUpdateJson {
  const content_hash = contentHashOf(json.doc);
  const value = `"${content_hash}"`;
  return {
    content_hash,
    doc: appendedJson(json.doc, 'content_hash', value),
    upsert: appendedJson(json.upsert, 'content_hash', value),
  };
}

/**
 * The update as JSON when another copy of the event in the same feed was sold online (ADR 0002):
 * `ever_online: true` in both parts, as `acceptedEventUpdate(e, seen, true)` or a rejection with
 * `online` would have written them. For an update whose own copy was not sold online (its `doc`
 * has no `ever_online`). Pure.
 */
export function everOnlineJson(json: UpdateJson): UpdateJson {
  const upsert = JSON.parse(json.upsert) as EventDocument;
  upsert.ever_online = true;
  return { doc: appendedJson(json.doc, 'ever_online', 'true'), upsert: JSON.stringify(upsert) };
}

/**
 * The update whose `upsert` is `document` (with its `content_hash`): what the run meant for a
 * document it tried to create while another writer created it first (the writer's fallback, ADR
 * 0016). Pure.
 */
export function updateOfNewDocument(document: EventDocument): DocumentUpdate {
  const { first_seen_at, last_run_id, ever_online, ...current } = document;
  void first_seen_at;
  void last_run_id;
  const online = ever_online ? { ever_online: true } : {};
  const doc: Partial<EventDocument> = document.last_rejection
    ? {
        last_seen_at: document.last_seen_at,
        last_rejection: document.last_rejection,
        ...online,
        content_hash: document.content_hash,
      }
    : { ...current, ...online };
  return { doc, upsert: document };
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
  return hashed(acceptedParts(e, seen, sightedOnline));
}

/**
 * `acceptedEventUpdate` as JSON, before its hash (`hashedJson`): the same bytes as its parts
 * serialized, with one serialization (the upsert is the doc's JSON and the bookkeeping). Pure.
 */
export function acceptedEventJson(
  e: NormalisedEvent,
  seen: SeenBy,
  sightedOnline = false,
): UpdateJson {
  const online = e.sell_mode === 'online' || sightedOnline;
  const current = JSON.stringify(currentOf(e, seen));
  const doc = online ? appendedJson(current, 'ever_online', 'true') : current;
  const bookkeeping = `"first_seen_at":${JSON.stringify(seen.seenAt)},"last_run_id":${JSON.stringify(seen.runId)}`;
  const upsert = `${doc.slice(0, -1)}${online ? '' : ',"ever_online":false'},${bookkeeping}}`;
  return { doc, upsert };
}

/** The fields of a valid event a sighting writes, existing document or not. */
function currentOf(e: NormalisedEvent, seen: SeenBy) {
  return {
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
    ...((seen.mappingVersion ?? EVENTS_MAPPING_VERSION) >= 3
      ? timeFieldsOf(periodOf(e), seen.timeZone)
      : {}),
    sell_from: e.sell_from,
    sell_to: e.sell_to,
    sold_out: e.sold_out,
    min_price: e.min_price,
    max_price: e.max_price,
    zone_count: e.zone_count,
    available_capacity: e.available_capacity,
    ...summaryFieldOf(e, seen.mappingVersion ?? EVENTS_MAPPING_VERSION),
    last_seen_at: seenDayOf(seen.seenAt),
    last_rejection: null,
  } satisfies Partial<EventDocument>;
}

function acceptedParts(e: NormalisedEvent, seen: SeenBy, sightedOnline: boolean): UpdateParts {
  const online = e.sell_mode === 'online' || sightedOnline;
  const current = currentOf(e, seen);
  const doc = online ? { ...current, ever_online: true } : current;
  const upsert = {
    ...current,
    ever_online: online,
    first_seen_at: seen.seenAt,
    last_run_id: seen.runId,
  };
  return [doc, upsert];
}

/** The stored form of a rejected event (its last good values, if any, stay). Pure. */
export function rejectedEventUpdate(r: Rejection, seen: SeenBy): DocumentUpdate {
  return hashed(rejectedParts(r, seen));
}

/** `rejectedEventUpdate` as JSON, before its hash (`hashedJson`). Pure. */
export function rejectedEventJson(r: Rejection, seen: SeenBy): UpdateJson {
  return jsonOf(rejectedParts(r, seen));
}

function rejectedParts(r: Rejection, seen: SeenBy): UpdateParts {
  const id = r.identity;
  const day = seenDayOf(seen.seenAt);
  const rejection = { reason: r.reason, detail: r.detail, at: day };
  const doc: Partial<EventDocument> = { last_seen_at: day, last_rejection: rejection };
  // An online sighting counts, valid or not, on a new and on an existing document alike.
  if (r.online) doc.ever_online = true;
  const upsert: EventDocument = {
    id: id.id,
    provider: id.provider,
    base_event_id: id.base_event_id,
    event_id: id.event_id,
    title: id.title,
    sell_mode: id.sell_mode,
    ever_online: r.online,
    first_seen_at: seen.seenAt,
    last_seen_at: day,
    last_run_id: seen.runId,
    last_rejection: rejection,
  };
  return [doc, upsert];
}
