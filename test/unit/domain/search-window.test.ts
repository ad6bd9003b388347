import { describe, expect, it } from '@jest/globals';
import {
  parseSearchWindow,
  SearchWindowError,
  type RawQuery,
} from '../../../src/domain/search-window.js';

function failure(query: RawQuery): SearchWindowError {
  try {
    parseSearchWindow(query);
  } catch (err) {
    if (err instanceof SearchWindowError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(query)} to be refused`);
}

const wall = (local: string) => ({ kind: 'wall', local });
const instant = (iso: string) => ({ kind: 'instant', ms: Date.parse(iso) });

describe('parseSearchWindow', () => {
  it('has open bounds when no parameter is given', () => {
    expect(parseSearchWindow({})).toEqual({
      startsAt: null,
      endsAt: null,
      empty: false,
      key: '*..*',
    });
  });

  it('reads a bound with an offset as an instant, whatever the offset', () => {
    const w = parseSearchWindow({
      starts_at: '2021-02-10T19:00:00Z',
      ends_at: '2021-07-31T21:00:00+02:00',
    });
    expect(w).toMatchObject({
      startsAt: instant('2021-02-10T19:00:00Z'),
      endsAt: instant('2021-07-31T19:00:00Z'),
      empty: false,
    });
  });

  it('reads a bound without an offset as a wall-clock time, as written', () => {
    const w = parseSearchWindow({ starts_at: '2021-02-10T20:00:00' });
    expect(w.startsAt).toEqual(wall('2021-02-10T20:00:00'));
  });

  it('gives windows that mean the same thing the same cache key (instants in UTC)', () => {
    const a = parseSearchWindow({ starts_at: '2021-02-10T19:00:00Z' });
    const b = parseSearchWindow({ starts_at: '2021-02-10T20:00:00+01:00', other: 'x' });
    const c = parseSearchWindow({ starts_at: '2021-02-10T14:00:00.000-05:00' });
    expect(a.key).toBe('2021-02-10T19:00:00.000Z..*');
    expect(b.key).toBe(a.key);
    expect(c.key).toBe(a.key);
    // A wall-clock time is another window than the instant with the same digits.
    expect(parseSearchWindow({ starts_at: '2021-02-10T19:00:00' }).key).not.toBe(a.key);
    expect(parseSearchWindow({ ends_at: '2021-02-10T19:00:00Z' }).key).not.toBe(a.key);
  });

  it('rounds a wall-clock lower bound with a fraction of a second up, and drops an upper one', () => {
    const w = parseSearchWindow({
      starts_at: '2021-02-10T20:00:00.001',
      ends_at: '2021-02-10T21:30:00.999',
    });
    expect(w.startsAt).toEqual(wall('2021-02-10T20:00:01'));
    expect(w.endsAt).toEqual(wall('2021-02-10T21:30:00'));
    expect(parseSearchWindow({ starts_at: '2021-02-10T20:00:00.000' }).startsAt).toEqual(
      wall('2021-02-10T20:00:00'),
    );
  });

  it('keeps an instant to the millisecond, rounding a lower bound finer than that up', () => {
    expect(parseSearchWindow({ starts_at: '2021-02-10T20:00:00.5Z' }).startsAt).toEqual(
      instant('2021-02-10T20:00:00.500Z'),
    );
    expect(parseSearchWindow({ starts_at: '2021-02-10T20:00:00.0001Z' }).startsAt).toEqual(
      instant('2021-02-10T20:00:00.001Z'),
    );
    expect(parseSearchWindow({ ends_at: '2021-02-10T20:00:00.0009Z' }).endsAt).toEqual(
      instant('2021-02-10T20:00:00.000Z'),
    );
  });

  it('accepts equal bounds (a zero-length window)', () => {
    const w = parseSearchWindow({
      starts_at: '2021-02-10T20:00:00Z',
      ends_at: '2021-02-10T20:00:00Z',
    });
    expect(w.empty).toBe(false);
  });

  it('takes a mixed window (an instant and a wall-clock time) as two bounds on two fields', () => {
    const w = parseSearchWindow({
      starts_at: '2021-10-31T00:30:00Z',
      ends_at: '2021-10-31T02:10:00',
    });
    expect(w).toMatchObject({
      startsAt: instant('2021-10-31T00:30:00Z'),
      endsAt: wall('2021-10-31T02:10:00'),
      empty: false,
      key: '2021-10-31T00:30:00.000Z..2021-10-31T02:10:00',
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

    it('refuses a mixed window only when no zone can make it match (a day or more reversed)', () => {
      // 23:59 on the wall clock is still before 00:00Z somewhere (at +00:01 and east of it).
      expect(() =>
        parseSearchWindow({ starts_at: '2021-03-02T00:00:00Z', ends_at: '2021-03-01T00:00:01' }),
      ).not.toThrow();
      expect(
        failure({ starts_at: '2021-03-02T00:00:00Z', ends_at: '2021-03-01T00:00:00' }).code,
      ).toBe('invalid_range');
      expect(
        failure({ starts_at: '2021-03-02T00:00:00', ends_at: '2021-03-01T00:00:00-00:00' }).code,
      ).toBe('invalid_range');
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
