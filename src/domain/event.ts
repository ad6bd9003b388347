/**
 * The normalised Event and the pure rules that turn a provider's raw event into it.
 *
 * Free of frameworks and I/O: the ingester feeds it parsed attributes, the store persists what it
 * returns, the API serves `EventSummary` as the contract defines it.
 */
import { hash } from 'node:crypto';
import { parseLocalDateTime, type LocalDateTime } from './local-time.js';

/**
 * Namespace of every event id this service mints (UUID v5). Never change it: ids are promised to be
 * stable forever.
 */
export const EVENT_ID_NAMESPACE = '6f1d8c0e-4b1a-5c47-9a43-3d7c2f0b8e51';

const NAMESPACE_BYTES = Buffer.from(EVENT_ID_NAMESPACE.replaceAll('-', ''), 'hex');
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The UUID v5 (RFC 9562: SHA-1 of the namespace's bytes and the name's UTF-8) of `name` in
 * EVENT_ID_NAMESPACE, as `uuid`'s `v5(name, namespace)` gives it (a unit test compares them):
 * one `crypto.hash` call instead of a Hash object per id (docs/adr/0016-*.md).
 */
function uuidV5(name: string): string {
  const nameLength = Buffer.byteLength(name);
  const input = Buffer.allocUnsafe(16 + nameLength);
  NAMESPACE_BYTES.copy(input, 0);
  input.write(name, 16, nameLength, 'utf8');
  const h = hash('sha1', input, 'buffer');
  let id = '';
  for (let i = 0; i < 16; i++) {
    // Version 5 in the high nibble of byte 6, the RFC 4122 variant in the top bits of byte 8.
    const byte = h[i] as number;
    id += HEX[i === 6 ? (byte & 0x0f) | 0x50 : i === 8 ? (byte & 0x3f) | 0x80 : byte];
    if (i === 3 || i === 5 || i === 7 || i === 9) id += '-';
  }
  return id;
}

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
  /** Null for an open-ended event: the feed gave no `event_end_date` (docs/adr/0002-*.md). */
  ends_at: LocalDateTime | null;
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
  return uuidV5(name);
}

const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const DECIMAL = /^\s*-?\d+(\.\d+)?\s*$/;
const INTEGER = /^\s*-?\d+\s*$/;

/**
 * The largest price accepted, in the feed's currency unit (docs/adr/0002-*.md). With at most
 * `MAX_PRICE_DECIMALS` decimals an accepted price has at most 13 significant digits, so the double
 * stored and served prints back as the same decimal value the provider sent (a double keeps 15).
 */
export const MAX_PRICE = 1_000_000_000;
/** Most digits after the decimal point in a price (3-decimal currencies included). */
export const MAX_PRICE_DECIMALS = 4;
/**
 * The largest capacity accepted, for one zone and for an event's total: 2^53 - 1, the largest
 * integer a JSON number (a double) holds exactly; stored as `long`.
 */
export const MAX_CAPACITY = Number.MAX_SAFE_INTEGER;

/** A checked number, or why it was refused (`why` is empty when the text is not a number at all). */
export type NumberCheck = { ok: true; value: number } | { ok: false; why: string };

/**
 * A zone's price: a non-negative decimal (`20`, `20.5`, `20.50`) of at most `MAX_PRICE_DECIMALS`
 * decimals, no larger than `MAX_PRICE`. Anything else, however many digits it has, is refused
 * before it can become `Infinity` or lose precision.
 */
export function checkPrice(value: string | undefined): NumberCheck {
  if (value === undefined) return { ok: false, why: '' };
  // The common case first (about a million zones per feed): plain digits, at most 4 decimals.
  const plain = plainPrice(value);
  if (!Number.isNaN(plain)) return { ok: true, value: plain };
  if (!DECIMAL.test(value)) return { ok: false, why: '' };
  const text = value.trim();
  const price = Number(text);
  if (price < 0) return { ok: false, why: 'is negative' };
  const decimals = text.split('.')[1]?.length ?? 0;
  if (decimals > MAX_PRICE_DECIMALS) {
    return { ok: false, why: `has more than ${MAX_PRICE_DECIMALS} decimals` };
  }
  // Also refuses Infinity (a 1 followed by 400 zeros).
  if (!(price <= MAX_PRICE)) return { ok: false, why: `is above the maximum ${MAX_PRICE}` };
  return { ok: true, value: price };
}

/** Powers of ten up to `MAX_PRICE_DECIMALS`, exact as doubles. */
const POWERS_OF_TEN = [1, 10, 100, 1000, 10000];
const DIGIT_0 = 48;
const DOT = 46;

/**
 * The price of a plain price text (what `checkPrice` accepts on its fast path: 1 to 10 digits,
 * then optionally a dot and 1 to `MAX_PRICE_DECIMALS` digits, at most `MAX_PRICE`), else NaN: no
 * result object, no regular expression and no string-to-number conversion for the million zones of
 * a feed (docs/adr/0016-*.md, fourth and sixth passes). The value is the text's digits as one
 * integer (below 2^53: at most 14 digits) divided by the power of ten of its decimals, both exact
 * doubles, so the one rounding of the division gives the double nearest the decimal value: what
 * `Number(text)` gives.
 */
function plainPrice(value: string | undefined): number {
  if (value === undefined) return NaN;
  const length = value.length;
  let digits = 0;
  let i = 0;
  for (; i < length; i++) {
    const d = value.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) break;
    digits = digits * 10 + d;
  }
  if (i === 0 || i > 10) return NaN;
  let decimals = 0;
  if (i < length) {
    if (value.charCodeAt(i) !== DOT) return NaN;
    decimals = length - i - 1;
    if (decimals < 1 || decimals > MAX_PRICE_DECIMALS) return NaN;
    for (i++; i < length; i++) {
      const d = value.charCodeAt(i) - DIGIT_0;
      if (d < 0 || d > 9) return NaN;
      digits = digits * 10 + d;
    }
  }
  const price = digits / (POWERS_OF_TEN[decimals] as number);
  return price <= MAX_PRICE ? price : NaN;
}

/** The capacity of a plain capacity text (`checkCapacity`'s fast path: 1 to 15 digits), else NaN. */
function plainCapacity(value: string | undefined): number {
  if (value === undefined) return NaN;
  const length = value.length;
  if (length === 0 || length > 15) return NaN;
  let capacity = 0;
  for (let i = 0; i < length; i++) {
    const d = value.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return NaN;
    capacity = capacity * 10 + d;
  }
  return capacity;
}

/** A zone's capacity: a non-negative integer no larger than `MAX_CAPACITY`. */
export function checkCapacity(value: string | undefined): NumberCheck {
  if (value === undefined) return { ok: false, why: '' };
  // The common case first: at most 15 digits are exact as a Number and below MAX_CAPACITY.
  const plain = plainCapacity(value);
  if (!Number.isNaN(plain)) return { ok: true, value: plain };
  if (!INTEGER.test(value)) return { ok: false, why: '' };
  const text = value.trim();
  // Compared as a BigInt: a Number would round a value just above 2^53 - 1 down onto it.
  const big = BigInt(text);
  if (big < 0n) return { ok: false, why: 'is negative' };
  if (big > BigInt(MAX_CAPACITY)) return { ok: false, why: `is above the maximum ${MAX_CAPACITY}` };
  return { ok: true, value: Number(big) };
}

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
  if (!starts) {
    return reject(
      'invalid_date',
      `${where}: event_start_date ${JSON.stringify(raw.event_start_date)} is not a valid date-time`,
      identity,
    );
  }
  // No end (the attribute missing or empty): an open-ended event, kept with a null end.
  const openEnded = raw.event_end_date === undefined || raw.event_end_date.trim() === '';
  const ends = openEnded ? null : parseLocalDateTime(raw.event_end_date);
  if (!openEnded && !ends) {
    return reject(
      'invalid_date',
      `${where}: event_end_date ${JSON.stringify(raw.event_end_date)} is not a valid date-time`,
      identity,
    );
  }
  if (ends !== null && ends < starts) {
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
    // The plain forms first (no result objects); anything else takes the full checks.
    let priceValue = plainPrice(zone.price);
    if (Number.isNaN(priceValue)) {
      const price = checkPrice(zone.price);
      if (!price.ok) {
        return reject(
          'invalid_price',
          `${where}: zone ${zone.zone_id ?? '?'} has price ${JSON.stringify(zone.price)}${price.why && `, which ${price.why}`}`,
          identity,
        );
      }
      priceValue = price.value;
    }
    let capacityValue = plainCapacity(zone.capacity);
    if (Number.isNaN(capacityValue)) {
      const capacity = checkCapacity(zone.capacity);
      if (!capacity.ok) {
        return reject(
          'invalid_capacity',
          `${where}: zone ${zone.zone_id ?? '?'} has capacity ${JSON.stringify(zone.capacity)}${capacity.why && `, which ${capacity.why}`}`,
          identity,
        );
      }
      capacityValue = capacity.value;
    }
    if (capacityValue <= 0 || soldOut) continue;
    available += capacityValue;
    // Exact while it stays a safe integer; past that the sum is at least 2^53, so this catches it.
    if (available > MAX_CAPACITY) {
      return reject(
        'invalid_capacity',
        `${where}: the zones' capacities add up to more than the maximum ${MAX_CAPACITY}`,
        identity,
      );
    }
    min = min === null ? priceValue : Math.min(min, priceValue);
    max = max === null ? priceValue : Math.max(max, priceValue);
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
    end_date: event.ends_at?.slice(0, 10) ?? null,
    end_time: event.ends_at?.slice(11, 19) ?? null,
    min_price: event.min_price,
    max_price: event.max_price,
  };
}

/**
 * The stored `period` of an event: `[starts_at, ends_at]`, with a null upper bound (unbounded) for
 * an open-ended event. The null is written explicitly so that a partial update replaces the end an
 * earlier feed gave (a missing key would keep it).
 */
export function periodOf(event: NormalisedEvent): {
  gte: LocalDateTime;
  lte: LocalDateTime | null;
} {
  return { gte: event.starts_at, lte: event.ends_at };
}
