/**
 * The search window: the query string of `GET /search`, validated and normalised.
 *
 * Provider times are venue-local wall-clock times in `PROVIDER_TIMEZONE`; query bounds are converted
 * into that zone (see docs/adr/0004-time-zones-and-range-semantics.md):
 * - a bound with an offset (`Z`, `+02:00`) is an instant, converted into the zone;
 * - a bound without an offset is already wall-clock time in the zone.
 *
 * Two queries that mean the same window (e.g. `...T19:00:00Z` and `...T20:00:00+01:00`) normalise to
 * the same bounds and so share one cache key.
 */
import { DateTime } from 'luxon';
import { toVenueLocal, type LocalDateTime } from './local-time.js';

export type SearchParameter = 'starts_at' | 'ends_at';

/** Stable error codes: clients may branch on them. */
export type SearchWindowErrorCode = 'invalid_starts_at' | 'invalid_ends_at' | 'invalid_range';

/** A query the API refuses with 400; `message` names the parameter and says what is wrong. */
export class SearchWindowError extends Error {
  constructor(
    readonly code: SearchWindowErrorCode,
    message: string,
    readonly parameter: SearchParameter | null,
  ) {
    super(message);
    this.name = 'SearchWindowError';
  }
}

export interface SearchWindow {
  /** Events must start at or after this venue-local time; null = open. */
  startsAt: LocalDateTime | null;
  /** Events must end at or before this venue-local time; null = open. */
  endsAt: LocalDateTime | null;
  /**
   * True when no event can match: the bounds are ordered as instants but reversed as wall-clock
   * times, which only happens across a daylight-saving fold. The store is not asked.
   */
  empty: boolean;
  /** Identical for every query that means the same window. */
  key: string;
}

/** The query as Koa/`node:querystring` parse it: repeated names become arrays. */
export type RawQuery = Record<string, string | string[] | undefined>;

const FRACTION = /\.(\d+)(?:[Zz]|[+-]\d{2}:\d{2})?$/;
const HAS_OFFSET = /(?:[Zz]|[+-]\d{2}:\d{2})$/;
const UNENCODED_PLUS = /\d \d{2}:\d{2}$/;
const LOCAL_FORMAT = "yyyy-MM-dd'T'HH:mm:ss";

function codeFor(parameter: SearchParameter): SearchWindowErrorCode {
  return parameter === 'starts_at' ? 'invalid_starts_at' : 'invalid_ends_at';
}

interface Bound {
  local: LocalDateTime;
  /** Milliseconds since the epoch of the instant the caller meant. */
  instant: number;
}

function readBound(
  query: RawQuery,
  parameter: SearchParameter,
  zone: string,
  roundUp: boolean,
): Bound | null {
  const value = query[parameter];
  if (value === undefined) return null;
  if (Array.isArray(value)) {
    throw new SearchWindowError(
      codeFor(parameter),
      `${parameter} is given ${value.length} times; give it at most once`,
      parameter,
    );
  }
  const example = '2021-07-31T20:00:00Z, 2021-07-31T22:00:00+02:00 or 2021-07-31T20:00:00';
  if (value.trim() === '') {
    throw new SearchWindowError(
      codeFor(parameter),
      `${parameter} is empty; give an RFC 3339 date-time such as ${example}, or leave it out`,
      parameter,
    );
  }
  const converted = toVenueLocal(value, zone);
  if (!converted.ok) {
    let why =
      converted.error === 'invalid_offset'
        ? `${parameter} has an invalid UTC offset (${JSON.stringify(value)}); offsets go from -23:59 to +23:59`
        : `${parameter} is not a valid RFC 3339 date-time (${JSON.stringify(value)}); expected e.g. ${example}`;
    // `?starts_at=...T22:00:00+02:00` unencoded arrives as "...T22:00:00 02:00": say so.
    if (UNENCODED_PLUS.test(value)) why += '; a "+" in a query string must be sent as %2B';
    throw new SearchWindowError(codeFor(parameter), why, parameter);
  }
  let local = converted.local;
  // Provider times have whole seconds. `starts_at=...:00.5` excludes an event starting at `...:00`,
  // so a lower bound with a fraction rounds up to the next whole second; an upper bound's fraction
  // can simply be dropped (an event ending at `...:00` does end before `...:00.5`).
  const fraction = FRACTION.exec(value)?.[1];
  if (roundUp && fraction !== undefined && /[1-9]/.test(fraction)) {
    local = DateTime.fromISO(local, { zone: 'UTC' })
      .plus({ seconds: 1 })
      .toFormat(LOCAL_FORMAT) as LocalDateTime;
  }
  const normalisedInput = value.replace(' ', 'T').replace(/z$/, 'Z');
  // Date.parse reads an RFC 3339 instant with an offset exactly; luxon is needed only to read a
  // wall-clock time in a named zone.
  const withOffset = HAS_OFFSET.test(value);
  const fast = withOffset ? Date.parse(normalisedInput) : Number.NaN;
  const instant = !Number.isNaN(fast)
    ? fast
    : withOffset
      ? DateTime.fromISO(normalisedInput, { setZone: true }).toMillis()
      : DateTime.fromISO(normalisedInput, { zone }).toMillis();
  return { local, instant };
}

/**
 * Validates and normalises the window of a search query. Unknown parameters are ignored.
 *
 * @param zone the IANA zone provider times are in (`PROVIDER_TIMEZONE`), already validated.
 * @throws SearchWindowError for a malformed, empty or repeated bound, an invalid offset, or
 *   `starts_at` after `ends_at`.
 */
export function parseSearchWindow(query: RawQuery, zone: string): SearchWindow {
  const start = readBound(query, 'starts_at', zone, true);
  const end = readBound(query, 'ends_at', zone, false);
  if (start && end && start.instant > end.instant) {
    throw new SearchWindowError(
      'invalid_range',
      `starts_at (${String(query.starts_at)}) is after ends_at (${String(query.ends_at)})`,
      null,
    );
  }
  const startsAt = start?.local ?? null;
  const endsAt = end?.local ?? null;
  return {
    startsAt,
    endsAt,
    empty: startsAt !== null && endsAt !== null && startsAt > endsAt,
    key: `${startsAt ?? '*'}..${endsAt ?? '*'}`,
  };
}
