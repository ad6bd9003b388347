/**
 * Venue-local wall-clock times.
 *
 * The provider's dates carry no offset: they are the venue's local time. The service keeps them as
 * they are (`YYYY-MM-DDTHH:mm:ss`), validated, and converts query bounds into that zone instead
 * (see docs/adr/0004-time-zones-and-range-semantics.md).
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

/** Zone names that mean UTC itself (the default `PROVIDER_TIMEZONE`). */
const UTC_ZONES = new Set(['UTC', 'Etc/UTC', 'Etc/GMT', 'GMT', 'Z', 'utc']);

export type QueryInstantError = 'malformed' | 'invalid_offset' | 'out_of_range';

/**
 * A venue-local time this service can store, compare and query: a four-digit year, 0000 to 9999
 * (docs/adr/0004-time-zones-and-range-semantics.md). An instant near either end can fall outside
 * once converted into the provider's zone (`9999-12-31T23:59:59-23:59` is in the year 10000).
 */
const REPRESENTABLE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

/** True when `local` is a wall-clock time of the years 0000-9999 written `YYYY-MM-DDTHH:mm:ss`. */
export function isRepresentable(local: string): local is LocalDateTime {
  return REPRESENTABLE.test(local);
}

/**
 * Converts a query bound into venue-local wall-clock time in `zone`.
 * - With an offset (`Z`, `+02:00`): the instant is converted into `zone`.
 * - Without an offset: it is read as wall-clock time in `zone` already.
 */
export function toVenueLocal(
  value: string,
  zone: string,
): { ok: true; local: LocalDateTime } | { ok: false; error: QueryInstantError } {
  const m = RFC3339.exec(value);
  if (!m) return { ok: false, error: 'malformed' };
  const [, y = '', mo = '', d = '', h = '', mi = '', s = '', fraction, offset] = m;
  if (!isValidCalendar(+y, +mo, +d, +h, +mi, +s)) return { ok: false, error: 'malformed' };
  if (offset === undefined) {
    return { ok: true, local: `${y}-${mo}-${d}T${h}:${mi}:${s}` as LocalDateTime };
  }
  if (offset !== 'Z' && offset !== 'z') {
    const [oh, om] = offset.slice(1).split(':').map(Number) as [number, number];
    if (oh > 23 || om > 59) return { ok: false, error: 'invalid_offset' };
  }
  const iso = value.replace(' ', 'T').replace(/z$/, 'Z');
  if (UTC_ZONES.has(zone)) {
    // The common case needs no time-zone database: the instant's UTC wall-clock is the answer.
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms) && (fraction === undefined || fraction.length <= 4)) {
      // Years past 9999 come out as `+010000-...`, before 0000 as `-000001-...`.
      const local = new Date(ms).toISOString().slice(0, 19);
      return isRepresentable(local) ? { ok: true, local } : { ok: false, error: 'out_of_range' };
    }
  }
  const instant = DateTime.fromISO(iso, { setZone: true });
  if (!instant.isValid) return { ok: false, error: 'malformed' };
  const local = instant.setZone(zone).toFormat("yyyy-MM-dd'T'HH:mm:ss");
  return isRepresentable(local) ? { ok: true, local } : { ok: false, error: 'out_of_range' };
}
