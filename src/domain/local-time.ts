/**
 * Venue-local wall-clock times.
 *
 * The provider's dates carry no offset: they are the venue's local time. The service keeps them as
 * they are (`YYYY-MM-DDTHH:mm:ss`), validated, and also as instants computed with the provider's
 * zone at ingest (`instantOf`); a query bound is read as one or the other (`readQueryBound`), see
 * docs/adr/0004-time-zones-and-range-semantics.md.
 */
import { DateTime, IANAZone } from 'luxon';

/** `YYYY-MM-DDTHH:mm:ss`, a real calendar date and time, no offset. */
export type LocalDateTime = string & { readonly __brand: 'LocalDateTime' };

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?$/;

function isValidCalendar(y: number, mo: number, d: number, h: number, mi: number, s: number) {
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  // Computed, not through Date.UTC: Date.UTC maps the years 0-99 onto 1900-1999.
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const daysInMonth = mo === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(mo) ? 30 : 31;
  return d <= daysInMonth;
}

/**
 * Parses a provider date-time (no offset). Returns null for a missing, malformed or impossible
 * value such as `2021-09-31T20:00:00`. Fractions of a second are dropped.
 */
export function parseLocalDateTime(value: string | undefined | null): LocalDateTime | null {
  if (!value) return null;
  const m = LOCAL.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '00'].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (!isValidCalendar(y, mo, d, h, mi, s)) return null;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}` as LocalDateTime;
}

/** True when `zone` is an IANA time-zone name this runtime knows. */
export function isKnownTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})?$/;

export type QueryBoundError = 'malformed' | 'invalid_offset';

/**
 * A venue-local time this service can store, compare and query: a four-digit year, 0000 to 9999
 * (docs/adr/0004-time-zones-and-range-semantics.md).
 */
const REPRESENTABLE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

/** True when `local` is a wall-clock time of the years 0000-9999 written `YYYY-MM-DDTHH:mm:ss`. */
export function isRepresentable(local: string): local is LocalDateTime {
  return REPRESENTABLE.test(local);
}

/** A query bound, read: a wall-clock time (no offset) or an instant (with an offset). */
export type QueryBound =
  | { kind: 'wall'; local: LocalDateTime; fraction: string }
  | { kind: 'instant'; ms: number; subMs: boolean };

/**
 * Reads a query bound (RFC 3339 date-time, `T`, `t` or a space between date and time).
 * - With an offset (`Z`, `+02:00`): the instant, in whole milliseconds since the epoch (`subMs`:
 *   a fraction below the millisecond was dropped).
 * - Without an offset: the wall-clock time as written, its fraction of a second apart (digits
 *   without trailing zeros).
 */
export function readQueryBound(
  value: string,
): { ok: true; bound: QueryBound } | { ok: false; error: QueryBoundError } {
  const m = RFC3339.exec(value);
  if (!m) return { ok: false, error: 'malformed' };
  const [, y = '', mo = '', d = '', h = '', mi = '', s = '', fraction, offset] = m;
  if (!isValidCalendar(+y, +mo, +d, +h, +mi, +s)) return { ok: false, error: 'malformed' };
  if (offset === undefined) {
    const local = `${y}-${mo}-${d}T${h}:${mi}:${s}` as LocalDateTime;
    return {
      ok: true,
      bound: { kind: 'wall', local, fraction: (fraction ?? '').slice(1).replace(/0+$/, '') },
    };
  }
  if (offset !== 'Z' && offset !== 'z') {
    const [oh, om] = offset.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) return { ok: false, error: 'invalid_offset' };
  }
  const iso = value.replace(' ', 'T').replace(/z$/, 'Z');
  // Date.parse reads an RFC 3339 instant exactly; luxon only when it cannot (more than 3 decimals).
  const fast = Date.parse(iso);
  const ms = !Number.isNaN(fast) ? fast : DateTime.fromISO(iso, { setZone: true }).toMillis();
  if (Number.isNaN(ms)) return { ok: false, error: 'malformed' };
  const subMs = /[1-9]/.test((fraction ?? '').slice(4));
  return { ok: true, bound: { kind: 'instant', ms, subMs } };
}

/** Zone names that mean UTC itself. */
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Z', 'utc']);

const HOUR_MS = 3_600_000;

/** Hours whose offset is known to be constant, per zone (bounded: cleared when full). */
const constantHours = new Map<string, Map<number, number | null>>();
const MAX_CACHED_HOURS = 100_000;

/**
 * The UTC offset of `zone` at an instant, in milliseconds. Asking the time-zone database costs
 * microseconds, and an ingest run asks several times per event, so each hour whose offset is the
 * same at its first and its last millisecond is remembered as constant (a zone never changes its
 * offset and back within one hour); other hours are asked exactly every time.
 */
function offsetsOf(zone: string): (ms: number) => number {
  const iana = IANAZone.create(zone);
  // Whole milliseconds: offsets of local mean time before 1901 have seconds (Madrid: -00:14:44).
  const exact = (ms: number) => Math.round(iana.offset(ms) * 60_000);
  let hours = constantHours.get(zone);
  if (!hours) {
    hours = new Map();
    constantHours.set(zone, hours);
  }
  const known = hours;
  return (ms) => {
    const hour = Math.floor(ms / HOUR_MS);
    let offset = known.get(hour);
    if (offset === undefined) {
      const first = exact(hour * HOUR_MS);
      offset = first === exact((hour + 1) * HOUR_MS - 1) ? first : null;
      if (known.size >= MAX_CACHED_HOURS) known.clear();
      known.set(hour, offset);
    }
    return offset ?? exact(ms);
  };
}

/**
 * The instant (milliseconds since the epoch) a venue-local wall-clock time means in `zone`, with
 * one rule for the readings a daylight-saving change makes special (docs/adr/0004-*.md):
 * - in an **overlap** (the clock shows it twice: 02:30 on an autumn night in Madrid) it is the
 *   earlier of the two instants (02:30 CEST, the first pass), as in RFC 5545 and Temporal;
 * - in a **gap** (the clock skips it: 02:30 on a spring-forward night) it is the instant of the
 *   change, the first the clock shows after it (03:00 CEST).
 * So the mapping never goes backwards: a period in order stays in order as instants (a gap time
 * moved an hour forward, as Temporal does, could pass the event's end: 02:40-03:05 would become
 * 03:40-03:05), and the events of one zone keep their wall-clock order. Pure; the year may be
 * 0000-9999 (the instant may fall a day outside them).
 */
export function instantOf(local: LocalDateTime, zone: string): number {
  const wall = Date.parse(`${local}Z`);
  if (UTC_ZONES.has(zone)) return wall;
  const offsetAt = offsetsOf(zone);
  // The offsets in force a day and a half either side (a gap or an overlap lasts at most a day).
  const before = offsetAt(wall - 36 * HOUR_MS);
  const after = offsetAt(wall + 36 * HOUR_MS);
  const readings = [wall - before, wall - after].filter((t) => wall - offsetAt(t) === t);
  if (readings.length > 0) return Math.min(...readings);
  // A gap: the change happens between the two readings; find its instant (to the millisecond).
  let low = Math.min(wall - before, wall - after);
  let high = Math.max(wall - before, wall - after);
  const offsetLow = offsetAt(low);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (offsetAt(mid) === offsetLow) low = mid;
    else high = mid;
  }
  return high;
}
