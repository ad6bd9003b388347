import { describe, expect, it } from '@jest/globals';
import {
  parseSearchWindow,
  SearchWindowError,
  type RawQuery,
} from '../../../src/domain/search-window.js';

function failure(query: RawQuery, zone = 'UTC'): SearchWindowError {
  try {
    parseSearchWindow(query, zone);
  } catch (err) {
    if (err instanceof SearchWindowError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

describe('parseSearchWindow', () => {
  it('has open bounds when no parameter is given', () => {
    expect(parseSearchWindow({}, 'UTC')).toEqual({
      startsAt: null,
      endsAt: null,
      empty: false,
      key: '*..*',
    });
  });

  it('reads UTC instants as wall-clock time in a UTC provider zone', () => {
    const w = parseSearchWindow(
      { starts_at: '2021-02-01T00:00:00Z', ends_at: '2022-07-03T00:00:00Z' },
      'UTC',
    );
    expect(w).toMatchObject({
      startsAt: '2021-02-01T00:00:00',
      endsAt: '2022-07-03T00:00:00',
      empty: false,
    });
  });

  it('converts instants with an offset into the provider zone (winter and summer time)', () => {
    const w = parseSearchWindow(
      { starts_at: '2021-02-10T19:00:00Z', ends_at: '2021-07-31T21:00:00+02:00' },
      'Europe/Madrid',
    );
    expect(w.startsAt).toBe('2021-02-10T20:00:00'); // CET, UTC+1
    expect(w.endsAt).toBe('2021-07-31T21:00:00'); // CEST, UTC+2: already Madrid time
    const utcOnly = parseSearchWindow({ starts_at: '2021-07-31T10:00:00-05:00' }, 'Europe/Madrid');
    expect(utcOnly.startsAt).toBe('2021-07-31T17:00:00');
  });

  it('reads a bound without an offset as wall-clock time in the provider zone', () => {
    const w = parseSearchWindow({ starts_at: '2021-02-10T20:00:00' }, 'Europe/Madrid');
    expect(w.startsAt).toBe('2021-02-10T20:00:00');
  });

  it('gives windows that mean the same thing the same cache key', () => {
    const a = parseSearchWindow({ starts_at: '2021-02-10T19:00:00Z' }, 'Europe/Madrid');
    const b = parseSearchWindow({ starts_at: '2021-02-10T20:00:00+01:00' }, 'Europe/Madrid');
    const c = parseSearchWindow({ starts_at: '2021-02-10T20:00:00', other: 'x' }, 'Europe/Madrid');
    expect(a.key).toBe(b.key);
    expect(b.key).toBe(c.key);
    expect(parseSearchWindow({ ends_at: '2021-02-10T20:00:00' }, 'Europe/Madrid').key).not.toBe(
      c.key,
    );
  });

  it('rounds a lower bound with a fraction of a second up, and drops an upper bound fraction', () => {
    const w = parseSearchWindow(
      { starts_at: '2021-02-10T20:00:00.001Z', ends_at: '2021-02-10T21:30:00.999Z' },
      'UTC',
    );
    expect(w.startsAt).toBe('2021-02-10T20:00:01');
    expect(w.endsAt).toBe('2021-02-10T21:30:00');
    expect(parseSearchWindow({ starts_at: '2021-02-10T20:00:00.000Z' }, 'UTC').startsAt).toBe(
      '2021-02-10T20:00:00',
    );
  });

  it('accepts equal bounds (a zero-length window)', () => {
    const w = parseSearchWindow(
      { starts_at: '2021-02-10T20:00:00Z', ends_at: '2021-02-10T20:00:00Z' },
      'UTC',
    );
    expect(w.empty).toBe(false);
  });

  it('marks as empty a window ordered in time but reversed on the wall clock (DST fold)', () => {
    // 00:30Z is 02:30 CEST, 01:10Z is 02:10 CET on 2021-10-31 in Madrid.
    const w = parseSearchWindow(
      { starts_at: '2021-10-31T00:30:00Z', ends_at: '2021-10-31T01:10:00Z' },
      'Europe/Madrid',
    );
    expect(w).toMatchObject({
      startsAt: '2021-10-31T02:30:00',
      endsAt: '2021-10-31T02:10:00',
      empty: true,
    });
  });

  describe('refuses with a stable code and a message naming the parameter', () => {
    it.each([
      ['starts_at', 'yesterday', 'invalid_starts_at', /starts_at is not a valid RFC 3339/],
      ['ends_at', '2021-02-30T00:00:00Z', 'invalid_ends_at', /ends_at is not a valid RFC 3339/],
      ['starts_at', '2021-02-01', 'invalid_starts_at', /starts_at is not a valid/],
      ['ends_at', '2021-02-01T25:00:00Z', 'invalid_ends_at', /ends_at/],
      ['starts_at', '', 'invalid_starts_at', /starts_at is empty/],
      ['starts_at', '2021-02-01T00:00:00+24:00', 'invalid_starts_at', /invalid UTC offset/],
      ['ends_at', '2021-02-01T00:00:00+02:60', 'invalid_ends_at', /ends_at has an invalid UTC/],
    ])('%s=%j -> %s', (parameter, value, code, message) => {
      const err = failure({ [parameter]: value });
      expect(err.code).toBe(code);
      expect(err.parameter).toBe(parameter);
      expect(err.message).toMatch(message);
    });

    it('explains an unencoded "+" offset', () => {
      const err = failure({ starts_at: '2021-02-01T00:00:00 02:00' });
      expect(err.code).toBe('invalid_starts_at');
      expect(err.message).toMatch(/%2B/);
    });

    it('refuses a repeated parameter', () => {
      const err = failure({ ends_at: ['2021-02-01T00:00:00Z', '2021-03-01T00:00:00Z'] });
      expect(err.code).toBe('invalid_ends_at');
      expect(err.message).toBe('ends_at is given 2 times; give it at most once');
    });

    it('refuses starts_at after ends_at, comparing instants', () => {
      const err = failure({ starts_at: '2021-03-01T00:00:00Z', ends_at: '2021-02-01T00:00:00Z' });
      expect(err.code).toBe('invalid_range');
      expect(err.parameter).toBeNull();
      expect(err.message).toMatch(/starts_at \(2021-03-01T00:00:00Z\) is after ends_at/);
      // Ordered as written (10:00 < 11:00), but 10:00-02:00 is 12:00Z, after 11:00Z.
      expect(
        failure({ starts_at: '2021-03-01T10:00:00-02:00', ends_at: '2021-03-01T11:00:00Z' }).code,
      ).toBe('invalid_range');
    });

    it('reports the first bad parameter when both are bad', () => {
      expect(failure({ starts_at: 'x', ends_at: 'y' }).code).toBe('invalid_starts_at');
    });
  });
});
