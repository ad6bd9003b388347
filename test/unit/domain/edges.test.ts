/** Issue 16's domain rules: number bounds, open-ended events, DST and out-of-range bounds. */
import { describe, expect, it } from '@jest/globals';
import {
  checkCapacity,
  checkPrice,
  MAX_CAPACITY,
  normaliseEvent,
  toSummary,
  type RawEvent,
} from '../../../src/domain/event.js';
import { toVenueLocal } from '../../../src/domain/local-time.js';
import { parseSearchWindow, SearchWindowError } from '../../../src/domain/search-window.js';

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

describe('wall-clock bounds across daylight-saving changes (Europe/Madrid)', () => {
  const window = (starts_at?: string, ends_at?: string) =>
    parseSearchWindow({ starts_at, ends_at }, 'Europe/Madrid');

  it('keeps a gap bound as written and orders it on the wall clock', () => {
    expect(window('2021-03-28T02:30:00', '2021-03-28T03:10:00')).toMatchObject({
      startsAt: '2021-03-28T02:30:00',
      endsAt: '2021-03-28T03:10:00',
      empty: false,
    });
  });

  it('orders a wall-clock bound and an instant on the wall clock', () => {
    // 01:10Z is 02:10 CET (second pass); 02:00 on the wall clock comes before it.
    expect(window('2021-10-31T02:00:00', '2021-10-31T01:10:00Z')).toMatchObject({
      startsAt: '2021-10-31T02:00:00',
      endsAt: '2021-10-31T02:10:00',
    });
    expect(() => window('2021-10-31T02:50:00', '2021-10-31T01:10:00Z')).toThrow(SearchWindowError);
  });

  it('compares fractions of a second on the wall clock', () => {
    expect(window('2021-03-28T02:30:00.5', '2021-03-28T02:30:00.70')).toMatchObject({
      startsAt: '2021-03-28T02:30:01',
      endsAt: '2021-03-28T02:30:00',
      empty: true,
    });
    expect(() => window('2021-03-28T02:30:00.50', '2021-03-28T02:30:00.4')).toThrow(
      /is after ends_at/,
    );
  });
});

describe('bounds outside the years 0000-9999', () => {
  it.each([
    ['9999-12-31T23:59:59-23:59', 'UTC'],
    ['0000-01-01T00:00:00+23:59', 'UTC'],
    ['9999-12-31T23:59:59Z', 'Europe/Madrid'],
    ['9999-12-31T23:00:00-02:00', 'Asia/Tokyo'],
  ])('%s in %s is out of range', (value, zone) => {
    expect(toVenueLocal(value, zone)).toEqual({ ok: false, error: 'out_of_range' });
  });

  it('the extremes themselves are representable', () => {
    expect(toVenueLocal('9999-12-31T23:59:59Z', 'UTC')).toEqual({
      ok: true,
      local: '9999-12-31T23:59:59',
    });
    expect(toVenueLocal('0000-01-01T00:00:00Z', 'UTC')).toEqual({
      ok: true,
      local: '0000-01-01T00:00:00',
    });
  });

  it('is a 400 naming the parameter', () => {
    expect(() => parseSearchWindow({ ends_at: '9999-12-31T23:59:59-23:59' }, 'UTC')).toThrow(
      expect.objectContaining({ code: 'invalid_ends_at', parameter: 'ends_at' }),
    );
  });
});
