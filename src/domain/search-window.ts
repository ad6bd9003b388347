/**
 * The search window: the query string of `GET /search`, validated and normalised.
 *
 * Provider times are venue-local wall-clock times in `PROVIDER_TIMEZONE`; query bounds are converted
 * into that zone (see docs/adr/0004-time-zones-and-range-semantics.md):
 * - a bound with an offset (`Z`, `+02:00`) is an instant, converted into the zone;
 * - a bound without an offset is already wall-clock time in the zone, taken as it is written even
 *   in a daylight-saving gap (02:30 on a spring-forward night) or overlap (02:30 twice in autumn):
 *   it is compared with the provider's wall-clock times, never moved to an instant.
 *
 * Two queries that mean the same window (e.g. `...T19:00:00Z` and `...T20:00:00+01:00`) normalise to
 * the same bounds and so share one cache key.
 */
import { DateTime } from 'luxon';
import { isRepresentable, toVenueLocal, type LocalDateTime } from './local-time.js';

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
  /**
   * Events must end at or before this venue-local time; null = open. An open-ended event (no end)
   * matches only an open upper bound: it cannot be shown to end before any bound.
   */
  endsAt: LocalDateTime | null;
  /**
   * True when no event can match although the bounds are in order: two instants ordered in time
   * but reversed on the wall clock (across a daylight-saving fold), or a lower bound whose fraction
   * of a second rounds up past the upper bound. The store is not asked.
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
  /** The bound the store is queried with (a lower bound's fraction of a second rounded up). */
  local: LocalDateTime;
  /**
   * The wall-clock time as given, with its fraction of a second (trailing zeros dropped): ordered
   * as text, it orders two bounds as the provider's clock does.
   */
  wall: string;
  /** Milliseconds since the epoch of the instant meant, for a bound with an offset; else null. */
  instant: number | null;
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
        : converted.error === 'out_of_range'
          ? `${parameter} (${JSON.stringify(value)}) falls outside the years 0000 to 9999 in the provider's time zone (${zone}); give a date-time between 0000-01-01T00:00:00 and 9999-12-31T23:59:59 there`
          : `${parameter} is not a valid RFC 3339 date-time (${JSON.stringify(value)}); expected e.g. ${example}`;
    // `?starts_at=...T22:00:00+02:00` unencoded arrives as "...T22:00:00 02:00": say so.
    if (UNENCODED_PLUS.test(value)) why += '; a "+" in a query string must be sent as %2B';
    throw new SearchWindowError(codeFor(parameter), why, parameter);
  }
  let local = converted.local;
  // Provider times have whole seconds. `starts_at=...:00.5` excludes an event starting at `...:00`,
  // so a lower bound with a fraction rounds up to the next whole second; an upper bound's fraction
  // can simply be dropped (an event ending at `...:00` does end before `...:00.5`).
  const fraction = FRACTION.exec(value)?.[1]?.replace(/0+$/, '') ?? '';
  const wall = fraction === '' ? local : `${local}.${fraction}`;
  if (roundUp && fraction !== '') {
    local = DateTime.fromISO(local, { zone: 'UTC' })
      .plus({ seconds: 1 })
      .toFormat(LOCAL_FORMAT) as LocalDateTime;
    if (!isRepresentable(local)) {
      throw new SearchWindowError(
        codeFor(parameter),
        `${parameter} (${JSON.stringify(value)}) rounds up past 9999-12-31T23:59:59, the last representable second`,
        parameter,
      );
    }
  }
  if (!HAS_OFFSET.test(value)) return { local, wall, instant: null };
  // Date.parse reads an RFC 3339 instant with an offset exactly; luxon only when it cannot (years
  // before 100 and more than 3 decimals).
  const normalisedInput = value.replace(' ', 'T').replace(/z$/, 'Z');
  const fast = Date.parse(normalisedInput);
  const instant = !Number.isNaN(fast)
    ? fast
    : DateTime.fromISO(normalisedInput, { setZone: true }).toMillis();
  return { local, wall, instant };
}

/**
 * Validates and normalises the window of a search query. Unknown parameters are ignored.
 *
 * @param zone the IANA zone provider times are in (`PROVIDER_TIMEZONE`), already validated.
 * @throws SearchWindowError for a malformed, empty or repeated bound, an invalid offset, a bound
 *   outside the years 0000-9999 in `zone`, or `starts_at` after `ends_at`.
 */
export function parseSearchWindow(query: RawQuery, zone: string): SearchWindow {
  const start = readBound(query, 'starts_at', zone, true);
  const end = readBound(query, 'ends_at', zone, false);
  // Two instants are ordered as instants; as soon as one bound is a wall-clock time (which in a
  // gap or an overlap is no single instant), the bounds are ordered on the provider's wall clock.
  const reversed =
    start !== null &&
    end !== null &&
    (start.instant !== null && end.instant !== null
      ? start.instant > end.instant
      : start.wall > end.wall);
  if (reversed) {
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
