/**
 * The search window: the query string of `GET /search`, validated and normalised.
 *
 * Every stored event has its period twice: as the provider's wall-clock times (`period`) and as
 * instants computed with its provider's zone at ingest (`instants`). A query bound is compared with
 * one or the other (see docs/adr/0004-time-zones-and-range-semantics.md):
 * - a bound with an offset (`Z`, `+02:00`) is an instant, compared with each event's instants;
 * - a bound without an offset is a wall-clock time, compared with each event's own wall clock
 *   (`starts_at=2021-06-30T20:00:00` means 20:00 where the event happens), taken as written even
 *   in a daylight-saving gap or overlap.
 * No time zone is needed to read a query.
 *
 * Two queries that mean the same window (e.g. `...T19:00:00Z` and `...T21:00:00+02:00`) normalise
 * to the same bounds and so share one cache key.
 */
import { DateTime } from 'luxon';
import { isRepresentable, readQueryBound, type LocalDateTime } from './local-time.js';

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

/**
 * One bound of a window: a wall-clock time compared with each event's `period`, or an instant
 * (milliseconds since the epoch) compared with each event's `instants`.
 */
export type WindowBound = { kind: 'wall'; local: LocalDateTime } | { kind: 'instant'; ms: number };

export interface SearchWindow {
  /** Events must start at or after this bound; null = open. */
  startsAt: WindowBound | null;
  /**
   * Events must end at or before this bound; null = open. An open-ended event (no end) matches
   * only an open upper bound: it cannot be shown to end before any bound.
   */
  endsAt: WindowBound | null;
  /**
   * True when no event can match although the bounds are in order: a lower bound whose fraction
   * of a second rounds up past an upper bound of the same kind. The store is not asked.
   */
  empty: boolean;
  /** Identical for every query that means the same window. */
  key: string;
}

/** The query as Koa/`node:querystring` parse it: repeated names become arrays. */
export type RawQuery = Record<string, string | string[] | undefined>;

const UNENCODED_PLUS = /\d \d{2}:\d{2}$/;
const LOCAL_FORMAT = "yyyy-MM-dd'T'HH:mm:ss";
/** Offsets lie strictly between -24 and +24 hours: a wall-clock time is an instant within a day. */
const DAY_MS = 86_400_000;

function codeFor(parameter: SearchParameter): SearchWindowErrorCode {
  return parameter === 'starts_at' ? 'invalid_starts_at' : 'invalid_ends_at';
}

interface Bound {
  /** What the store is queried with (a wall-clock lower bound's fraction rounded up). */
  bound: WindowBound;
  /**
   * A wall-clock bound as given, with its fraction of a second (trailing zeros dropped): ordered
   * as text, it orders two wall-clock bounds as a clock does. Null for an instant.
   */
  wall: string | null;
  /**
   * For ordering against the other kind: the instant, or the wall-clock time read as UTC
   * (milliseconds, with its fraction).
   */
  ms: number;
}

function readBound(query: RawQuery, parameter: SearchParameter, roundUp: boolean): Bound | null {
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
  const read = readQueryBound(value);
  if (!read.ok) {
    let why =
      read.error === 'invalid_offset'
        ? `${parameter} has an invalid UTC offset (${JSON.stringify(value)}); offsets go from -23:59 to +23:59`
        : `${parameter} is not a valid RFC 3339 date-time (${JSON.stringify(value)}); expected e.g. ${example}`;
    // `?starts_at=...T22:00:00+02:00` unencoded arrives as "...T22:00:00 02:00": say so.
    if (UNENCODED_PLUS.test(value)) why += '; a "+" in a query string must be sent as %2B';
    throw new SearchWindowError(codeFor(parameter), why, parameter);
  }
  const b = read.bound;
  if (b.kind === 'instant') {
    // Compared with instants to the millisecond (stored ones have whole seconds): a lower bound
    // with a fraction below the millisecond rounds up, an upper one's is dropped.
    const ms = b.subMs && roundUp ? b.ms + 1 : b.ms;
    return { bound: { kind: 'instant', ms }, wall: null, ms: b.ms };
  }
  let local = b.local;
  const wall = b.fraction === '' ? local : `${local}.${b.fraction}`;
  const ms = Date.parse(`${local}Z`) + Number(`0.${b.fraction || '0'}`) * 1000;
  // Provider times have whole seconds. `starts_at=...:00.5` excludes an event starting at `...:00`,
  // so a wall-clock lower bound with a fraction rounds up to the next whole second; an upper
  // bound's fraction can simply be dropped (an event ending at `...:00` ends before `...:00.5`).
  if (roundUp && b.fraction !== '') {
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
  return { bound: { kind: 'wall', local }, wall, ms };
}

/**
 * Two wall-clock bounds are ordered on the clock, two instants in time. A mixed window (one of
 * each) is compared with two different fields, and whether it can match depends on each event's
 * zone: it is reversed only when no zone can make it match, i.e. when the lower bound lies a whole
 * day (the largest offset) after the upper one.
 */
function isReversed(start: Bound, end: Bound): boolean {
  if (start.wall !== null && end.wall !== null) return start.wall > end.wall;
  if (start.wall === null && end.wall === null) return start.ms > end.ms;
  return start.ms - end.ms >= DAY_MS;
}

/** Bounds in order whose stored forms are reversed (a fraction rounded up past the other bound). */
function isEmpty(start: WindowBound | null, end: WindowBound | null): boolean {
  if (start?.kind === 'wall' && end?.kind === 'wall') return start.local > end.local;
  if (start?.kind === 'instant' && end?.kind === 'instant') return start.ms > end.ms;
  return false;
}

function keyOf(bound: WindowBound | null): string {
  if (bound === null) return '*';
  // Instants in UTC (the same instant written with any offset gives one key); wall clocks as is.
  return bound.kind === 'wall' ? bound.local : new Date(bound.ms).toISOString();
}

/**
 * Validates and normalises the window of a search query. Unknown parameters are ignored.
 *
 * @throws SearchWindowError for a malformed, empty or repeated bound, an invalid offset, a
 *   wall-clock lower bound rounding up past 9999-12-31T23:59:59, or `starts_at` after `ends_at`.
 */
export function parseSearchWindow(query: RawQuery): SearchWindow {
  const start = readBound(query, 'starts_at', true);
  const end = readBound(query, 'ends_at', false);
  if (start !== null && end !== null && isReversed(start, end)) {
    throw new SearchWindowError(
      'invalid_range',
      `starts_at (${String(query.starts_at)}) is after ends_at (${String(query.ends_at)})`,
      null,
    );
  }
  const startsAt = start?.bound ?? null;
  const endsAt = end?.bound ?? null;
  return {
    startsAt,
    endsAt,
    empty: isEmpty(startsAt, endsAt),
    key: `${keyOf(startsAt)}..${keyOf(endsAt)}`,
  };
}
