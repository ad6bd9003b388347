/**
 * The normalised Event and the pure rules that turn a provider's raw event into it.
 *
 * Free of frameworks and I/O: the ingester feeds it parsed attributes, the store persists what it
 * returns, the API serves `EventSummary` as the contract defines it.
 */
import { v5 as uuidv5 } from 'uuid';
import { parseLocalDateTime, type LocalDateTime } from './local-time.js';

/**
 * Namespace of every event id this service mints (UUID v5). Never change it: ids are promised to be
 * stable forever.
 */
export const EVENT_ID_NAMESPACE = '6f1d8c0e-4b1a-5c47-9a43-3d7c2f0b8e51';

/** One `<zone>` as the provider sends it (attribute strings, untouched). */
export interface RawZone {
  zone_id?: string;
  capacity?: string;
  price?: string;
  name?: string;
  numbered?: string;
}

/** One `<event>` inside a `<base_event>`, with its parent's attributes (strings, untouched). */
export interface RawEvent {
  base_event_id?: string;
  sell_mode?: string;
  title?: string;
  organizer_company_id?: string;
  event_id?: string;
  event_start_date?: string;
  event_end_date?: string;
  sell_from?: string;
  sell_to?: string;
  sold_out?: string;
  zones: RawZone[];
}

export type SellMode = 'online' | 'offline';

/** The response shape of one event, exactly as `openapi.yaml`'s `EventSummary`. */
export interface EventSummary {
  id: string;
  title: string;
  start_date: string;
  start_time: string | null;
  end_date: string | null;
  end_time: string | null;
  min_price: number | null;
  max_price: number | null;
}

/** An event normalised from one feed, before bookkeeping (first/last seen) is applied. */
export interface NormalisedEvent {
  id: string;
  provider: string;
  base_event_id: string;
  event_id: string;
  title: string;
  sell_mode: SellMode;
  organizer_company_id: string | null;
  /** Venue-local wall-clock time, `YYYY-MM-DDTHH:mm:ss`, no offset. */
  starts_at: LocalDateTime;
  ends_at: LocalDateTime;
  sell_from: LocalDateTime | null;
  sell_to: LocalDateTime | null;
  sold_out: boolean;
  /** Cheapest and dearest zone that still has tickets; null when none has. */
  min_price: number | null;
  max_price: number | null;
  zone_count: number;
  available_capacity: number;
}

/** Why an event was not accepted as searchable. Stable strings: they label metrics and run records. */
export const REJECTION_REASONS = [
  'missing_id',
  'missing_title',
  'invalid_sell_mode',
  'invalid_date',
  'end_before_start',
  'invalid_price',
  'invalid_capacity',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

export type NormaliseResult =
  | { ok: true; event: NormalisedEvent }
  | {
      ok: false;
      reason: RejectionReason;
      detail: string;
      /** Present when the identity is known, so the event can still be recorded as seen. */
      identity: EventIdentity | null;
    };

export interface EventIdentity {
  id: string;
  provider: string;
  base_event_id: string;
  event_id: string;
  title: string | null;
  sell_mode: SellMode | null;
}

/** The deterministic id of (provider, base_event_id, event_id). */
export function eventId(provider: string, baseEventId: string, eventIdValue: string): string {
  // Length-prefixed so that no two different triples can produce the same name.
  const name = [provider, baseEventId, eventIdValue].map((p) => `${p.length}:${p}`).join('|');
  return uuidv5(name, EVENT_ID_NAMESPACE);
}

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const DECIMAL = /^\s*-?\d+(\.\d+)?\s*$/;
const INTEGER = /^\s*-?\d+\s*$/;

function reject(
  reason: RejectionReason,
  detail: string,
  identity: EventIdentity | null,
): NormaliseResult {
  return { ok: false, reason, detail, identity };
}

function parseSellMode(value: string | undefined): SellMode | null {
  return value === 'online' || value === 'offline' ? value : null;
}

/**
 * Normalises one raw event from `provider`'s feed. Never throws: every problem becomes a rejection
 * with a stable reason and a human-readable detail.
 */
export function normaliseEvent(provider: string, raw: RawEvent): NormaliseResult {
  const baseId = raw.base_event_id?.trim();
  const evId = raw.event_id?.trim();
  if (!baseId || !ID_PATTERN.test(baseId)) {
    return reject(
      'missing_id',
      `base_event_id is missing or malformed (${JSON.stringify(raw.base_event_id)})`,
      null,
    );
  }
  if (!evId || !ID_PATTERN.test(evId)) {
    return reject(
      'missing_id',
      `event_id is missing or malformed under base_event ${baseId} (${JSON.stringify(raw.event_id)})`,
      null,
    );
  }
  const title = raw.title?.trim() || null;
  const sellMode = parseSellMode(raw.sell_mode?.trim());
  const identity: EventIdentity = {
    id: eventId(provider, baseId, evId),
    provider,
    base_event_id: baseId,
    event_id: evId,
    title,
    sell_mode: sellMode,
  };
  const where = `base_event ${baseId} event ${evId}`;

  if (!title) return reject('missing_title', `${where}: title is missing`, identity);
  if (!sellMode) {
    return reject(
      'invalid_sell_mode',
      `${where}: sell_mode ${JSON.stringify(raw.sell_mode)} is neither "online" nor "offline"`,
      identity,
    );
  }

  const starts = parseLocalDateTime(raw.event_start_date);
  const ends = parseLocalDateTime(raw.event_end_date);
  if (!starts) {
    return reject(
      'invalid_date',
      `${where}: event_start_date ${JSON.stringify(raw.event_start_date)} is not a valid date-time`,
      identity,
    );
  }
  if (!ends) {
    return reject(
      'invalid_date',
      `${where}: event_end_date ${JSON.stringify(raw.event_end_date)} is not a valid date-time`,
      identity,
    );
  }
  if (ends < starts) {
    return reject(
      'end_before_start',
      `${where}: ends (${ends}) before it starts (${starts})`,
      identity,
    );
  }

  const soldOut = raw.sold_out?.trim() === 'true';
  let min: number | null = null;
  let max: number | null = null;
  let available = 0;
  for (const zone of raw.zones) {
    if (zone.price === undefined || !DECIMAL.test(zone.price)) {
      return reject(
        'invalid_price',
        `${where}: zone ${zone.zone_id ?? '?'} has price ${JSON.stringify(zone.price)}`,
        identity,
      );
    }
    if (zone.capacity === undefined || !INTEGER.test(zone.capacity)) {
      return reject(
        'invalid_capacity',
        `${where}: zone ${zone.zone_id ?? '?'} has capacity ${JSON.stringify(zone.capacity)}`,
        identity,
      );
    }
    const price = Number(zone.price);
    const capacity = Number(zone.capacity);
    if (price < 0) {
      return reject(
        'invalid_price',
        `${where}: zone ${zone.zone_id ?? '?'} has a negative price ${zone.price}`,
        identity,
      );
    }
    if (capacity < 0) {
      return reject(
        'invalid_capacity',
        `${where}: zone ${zone.zone_id ?? '?'} has a negative capacity ${zone.capacity}`,
        identity,
      );
    }
    if (capacity <= 0 || soldOut) continue;
    available += capacity;
    min = min === null ? price : Math.min(min, price);
    max = max === null ? price : Math.max(max, price);
  }

  return {
    ok: true,
    event: {
      id: identity.id,
      provider,
      base_event_id: baseId,
      event_id: evId,
      title,
      sell_mode: sellMode,
      organizer_company_id: raw.organizer_company_id?.trim() || null,
      starts_at: starts,
      ends_at: ends,
      sell_from: parseLocalDateTime(raw.sell_from),
      sell_to: parseLocalDateTime(raw.sell_to),
      sold_out: soldOut,
      min_price: min,
      max_price: max,
      zone_count: raw.zones.length,
      available_capacity: available,
    },
  };
}

/** The API's view of a normalised event (local dates and times, as the contract says). */
export function toSummary(event: NormalisedEvent): EventSummary {
  return {
    id: event.id,
    title: event.title,
    start_date: event.starts_at.slice(0, 10),
    start_time: event.starts_at.slice(11, 19),
    end_date: event.ends_at.slice(0, 10),
    end_time: event.ends_at.slice(11, 19),
    min_price: event.min_price,
    max_price: event.max_price,
  };
}
