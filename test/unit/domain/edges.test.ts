/** Issue 16's domain rules: number bounds, open-ended events, DST and out-of-range bounds. */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  checkCapacity,
  checkPrice,
  MAX_CAPACITY,
  normaliseEvent,
  toSummary,
  type RawEvent,
} from '../../../src/domain/event.js';
import { instantOf, type LocalDateTime } from '../../../src/domain/local-time.js';
import { parseSearchWindow } from '../../../src/domain/search-window.js';

const raw = (over: Partial<RawEvent> = {}): RawEvent => ({
  base_event_id: '1',
  sell_mode: 'online',
  title: 'T',
  event_id: '1',
  event_start_date: '2022-01-01T20:00:00',
  event_end_date: '2022-01-01T21:00:00',
  sold_out: 'false',
  zones: [{ zone_id: '1', capacity: '5', price: '10.00' }],
  ...over,
});

describe('checkPrice', () => {
  it.each([
    '0',
    '20',
    '20.5',
    '20.50',
    '19.9999',
    '999999999.9999',
    '1000000000',
    ' 7.25 ',
    '0007',
  ])('accepts %j', (price) =>
    expect(checkPrice(price)).toEqual({ ok: true, value: Number(price) }),
  );
  it.each([
    [`1${'0'.repeat(400)}`, 'is above the maximum 1000000000'],
    ['1000000000.0001', 'is above the maximum 1000000000'],
    ['20.12345', 'has more than 4 decimals'],
    ['-1', 'is negative'],
    ['20,50', ''],
    ['1e3', ''],
    ['', ''],
  ])('refuses %j (%s)', (price, why) => expect(checkPrice(price)).toEqual({ ok: false, why }));
});

/**
 * The zone loop reads plain prices and capacities with a scanner of its own (no regular
 * expression, no `Number()`): whatever text a zone holds, the event's prices and capacity are those
 * `checkPrice` and `checkCapacity` give, and an accepted price is the double `Number()` reads.
 */
describe('the zone fast paths agree with the full checks', () => {
  const numberLike = fc.oneof(
    fc.stringMatching(/^-?\d{0,16}(\.\d{0,6})?$/),
    fc.stringMatching(/^ ?\d{1,11}(\.\d{1,5})? ?$/),
    fc.string({ maxLength: 12 }),
    fc.tuple(fc.integer({ min: 0, max: 1_000_000_000 }), fc.integer({ min: 0, max: 9999 })).map(
      ([i, f]) =>
        `${i}.${String(f)
          .padStart(4, '0')
          .slice(0, 1 + (f % 4))}`,
    ),
  );

  /** What the rules accept, written out plainly (the reference the fast paths are held to). */
  const specPrice = (text: string): number | null => {
    const t = text.trim();
    // A minus sign is read, so "-0" is a price of 0 (and any other negative is refused).
    if (!/^-?\d+(\.\d{1,4})?$/.test(t)) return null;
    const value = Number(t);
    return value >= 0 && value <= 1_000_000_000 ? value : null;
  };
  const specCapacity = (text: string): number | null => {
    const t = text.trim();
    if (!/^-?\d+$/.test(t)) return null;
    const value = BigInt(t);
    return value >= 0n && value <= BigInt(MAX_CAPACITY) ? Number(value) : null;
  };

  it('a price', () =>
    fc.assert(
      fc.property(numberLike, (price) => {
        const expected = specPrice(price);
        const check = checkPrice(price);
        expect(check.ok ? check.value : null).toBe(expected);
        const result = normaliseEvent(
          'p',
          raw({ zones: [{ zone_id: '1', capacity: '5', price }] }),
        );
        expect(result.ok ? result.event.min_price : null).toBe(expected);
      }),
      { numRuns: 5000 },
    ));

  it('a capacity', () =>
    fc.assert(
      fc.property(numberLike, (capacity) => {
        const expected = specCapacity(capacity);
        const check = checkCapacity(capacity);
        expect(check.ok ? check.value : null).toBe(expected);
        const result = normaliseEvent(
          'p',
          raw({ zones: [{ zone_id: '1', capacity, price: '1' }] }),
        );
        expect(result.ok ? result.event.available_capacity : null).toBe(expected);
      }),
      { numRuns: 5000 },
    ));
});

describe('checkCapacity', () => {
  it.each([
    ['0', 0],
    ['3000000000', 3_000_000_000],
    ['9007199254740991', MAX_CAPACITY],
  ])('accepts %j', (capacity, value) =>
    expect(checkCapacity(capacity)).toEqual({ ok: true, value }),
  );
  it.each([
    ['9007199254740992', 'is above the maximum 9007199254740991'],
    [`9${'0'.repeat(30)}`, 'is above the maximum 9007199254740991'],
    ['-3', 'is negative'],
    ['1.5', ''],
  ])('refuses %j (%s)', (capacity, why) =>
    expect(checkCapacity(capacity)).toEqual({ ok: false, why }),
  );

  it("refuses an event whose zones' capacities add up past 2^53 - 1", () => {
    const result = normaliseEvent(
      'p',
      raw({
        zones: [
          { zone_id: '1', capacity: String(MAX_CAPACITY), price: '1' },
          { zone_id: '2', capacity: '1', price: '1' },
        ],
      }),
    );
    expect(result).toMatchObject({ ok: false, reason: 'invalid_capacity' });
  });
});

describe('open-ended events', () => {
  it.each([undefined, '', '  '])('event_end_date %j: kept, served with a null end', (end) => {
    const result = normaliseEvent('p', raw({ event_end_date: end }));
    if (!result.ok) throw new Error(result.detail);
    expect(result.event.ends_at).toBeNull();
    expect(toSummary(result.event)).toMatchObject({ end_date: null, end_time: null });
  });

  it('a present but malformed end is still invalid_date', () => {
    expect(normaliseEvent('p', raw({ event_end_date: 'soon' }))).toMatchObject({
      ok: false,
      reason: 'invalid_date',
    });
  });
});

describe('wall-clock bounds across daylight-saving changes', () => {
  const window = (starts_at?: string, ends_at?: string) =>
    parseSearchWindow({ starts_at, ends_at });
  const wall = (local: string) => ({ kind: 'wall', local });

  it('keeps a gap bound as written and orders it on the wall clock', () => {
    expect(window('2021-03-28T02:30:00', '2021-03-28T03:10:00')).toMatchObject({
      startsAt: wall('2021-03-28T02:30:00'),
      endsAt: wall('2021-03-28T03:10:00'),
      empty: false,
    });
  });

  it('compares fractions of a second on the wall clock', () => {
    expect(window('2021-03-28T02:30:00.5', '2021-03-28T02:30:00.70')).toMatchObject({
      startsAt: wall('2021-03-28T02:30:01'),
      endsAt: wall('2021-03-28T02:30:00'),
      empty: true,
    });
    expect(() => window('2021-03-28T02:30:00.50', '2021-03-28T02:30:00.4')).toThrow(
      /is after ends_at/,
    );
  });
});

describe('a wall-clock time as an instant (instantOf, at ingest)', () => {
  const at = (local: string, zone: string) =>
    new Date(instantOf(local as LocalDateTime, zone)).toISOString();

  it("reads an ordinary time with the zone's offset of the day", () => {
    expect(at('2021-02-10T20:00:00', 'Europe/Madrid')).toBe('2021-02-10T19:00:00.000Z');
    expect(at('2021-07-31T20:00:00', 'Europe/Madrid')).toBe('2021-07-31T18:00:00.000Z');
    expect(at('2021-07-31T20:00:00', 'America/New_York')).toBe('2021-08-01T00:00:00.000Z');
    expect(at('2021-07-31T20:00:00', 'UTC')).toBe('2021-07-31T20:00:00.000Z');
  });

  it('moves a time in a gap to the instant of the change (03:00 on the clock after it)', () => {
    // Madrid skips 02:00-03:00 on 2021-03-28 (01:00Z): 02:00, 02:30 and 02:59:59 are 03:00 CEST.
    expect(at('2021-03-28T02:00:00', 'Europe/Madrid')).toBe('2021-03-28T01:00:00.000Z');
    expect(at('2021-03-28T02:30:00', 'Europe/Madrid')).toBe('2021-03-28T01:00:00.000Z');
    expect(at('2021-03-28T02:59:59', 'Europe/Madrid')).toBe('2021-03-28T01:00:00.000Z');
    expect(at('2021-03-28T03:00:00', 'Europe/Madrid')).toBe('2021-03-28T01:00:00.000Z');
    expect(at('2021-03-28T01:59:59', 'Europe/Madrid')).toBe('2021-03-28T00:59:59.000Z');
    // New York skips 02:00-03:00 on 2021-03-14 (07:00Z).
    expect(at('2021-03-14T02:15:00', 'America/New_York')).toBe('2021-03-14T07:00:00.000Z');
  });

  it('never reverses a period: a gap time stays before a later time', () => {
    const start = instantOf('2021-03-28T02:40:00' as LocalDateTime, 'Europe/Madrid');
    const end = instantOf('2021-03-28T03:05:00' as LocalDateTime, 'Europe/Madrid');
    expect(start).toBeLessThanOrEqual(end);
  });

  it('takes the earlier instant of a time shown twice (the first pass, summer time)', () => {
    // Madrid shows 02:00-03:00 twice on 2021-10-31: 02:30 CEST (00:30Z), then 02:30 CET (01:30Z).
    expect(at('2021-10-31T02:30:00', 'Europe/Madrid')).toBe('2021-10-31T00:30:00.000Z');
    expect(at('2021-10-31T03:00:00', 'Europe/Madrid')).toBe('2021-10-31T02:00:00.000Z');
    expect(at('2021-11-07T01:30:00', 'America/New_York')).toBe('2021-11-07T05:30:00.000Z');
  });

  it('computes the extreme years (the instant may fall outside them)', () => {
    expect(instantOf('9999-12-31T23:59:59' as LocalDateTime, 'America/New_York')).toBe(
      Date.parse('9999-12-31T23:59:59Z') + 5 * 3_600_000,
    );
    // Madrid's local mean time before 1901 was UTC-00:14:44.
    expect(at('0000-01-01T00:00:00', 'Europe/Madrid')).toBe('0000-01-01T00:14:44.000Z');
  });
});

describe('bounds near the years 0000-9999', () => {
  it('serves an instant a day outside them (compared with instants, no zone involved)', () => {
    expect(parseSearchWindow({ ends_at: '9999-12-31T23:59:59-23:59' }).endsAt).toEqual({
      kind: 'instant',
      ms: Date.parse('9999-12-31T23:59:59Z') + (23 * 60 + 59) * 60_000,
    });
    expect(parseSearchWindow({ starts_at: '0000-01-01T00:00:00+23:59' }).startsAt).toMatchObject({
      kind: 'instant',
    });
  });

  it('refuses a wall-clock lower bound that rounds up past 9999-12-31T23:59:59, naming it', () => {
    expect(() => parseSearchWindow({ starts_at: '9999-12-31T23:59:59.5' })).toThrow(
      expect.objectContaining({ code: 'invalid_starts_at', parameter: 'starts_at' }),
    );
  });
});
