import { describe, expect, it } from '@jest/globals';
import { parseLocalDateTime } from '../../../src/domain/local-time.js';

describe('parseLocalDateTime', () => {
  it('keeps a provider date-time as venue-local wall-clock time, without offset', () => {
    expect(parseLocalDateTime('2021-06-30T21:00:00')).toBe('2021-06-30T21:00:00');
    expect(parseLocalDateTime(' 2021-07-31T20:00:00 ')).toBe('2021-07-31T20:00:00');
  });

  it('adds missing seconds and drops fractions', () => {
    expect(parseLocalDateTime('2021-06-30T21:00')).toBe('2021-06-30T21:00:00');
    expect(parseLocalDateTime('2021-06-30T21:00:05.250')).toBe('2021-06-30T21:00:05');
  });

  it.each([
    ['2021-09-31T20:00:00', 'September has 30 days (event 444)'],
    ['2021-02-29T20:00:00', 'not a leap year'],
    ['1900-02-29T10:00:00', 'century, not a leap year'],
    ['2021-13-01T10:00:00', 'month 13'],
    ['2021-00-10T10:00:00', 'month 0'],
    ['2021-06-00T10:00:00', 'day 0'],
    ['2021-06-30T24:00:00', 'hour 24'],
    ['2021-06-30T21:60:00', 'minute 60'],
    ['2021-06-30T21:00:60', 'second 60'],
  ])('rejects the impossible %s (%s)', (value) => {
    expect(parseLocalDateTime(value)).toBeNull();
  });

  it('accepts real leap days, including years below 100 that Date.UTC would shift', () => {
    expect(parseLocalDateTime('2024-02-29T10:00:00')).toBe('2024-02-29T10:00:00');
    expect(parseLocalDateTime('2000-02-29T10:00:00')).toBe('2000-02-29T10:00:00');
    expect(parseLocalDateTime('0000-02-29T10:00:00')).toBe('0000-02-29T10:00:00');
  });

  it.each([
    [undefined],
    [null],
    [''],
    ['tomorrow'],
    ['2021-06-30'],
    ['2021-06-30 21:00:00'],
    ['2021-06-30T21:00:00Z'],
    ['2021-06-30T21:00:00+02:00'],
    ['21-06-30T21:00:00'],
  ])('rejects the malformed %p', (value) => {
    expect(parseLocalDateTime(value)).toBeNull();
  });
});
