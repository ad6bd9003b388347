import { describe, expect, it } from '@jest/globals';
import { v5 as uuidv5, validate as isUuid, version as uuidVersion } from 'uuid';
import {
  eventId,
  EVENT_ID_NAMESPACE,
  normaliseEvent,
  toSummary,
  type NormalisedEvent,
  type RawEvent,
} from '../../../src/domain/event.js';

/** Event 291 as response_3.xml has it. */
function camela(overrides: Partial<RawEvent> = {}): RawEvent {
  return {
    base_event_id: '291',
    sell_mode: 'online',
    title: 'Camela en concierto',
    event_id: '291',
    event_start_date: '2021-06-30T21:00:00',
    event_end_date: '2021-06-30T21:30:00',
    sell_from: '2020-07-01T00:00:00',
    sell_to: '2021-06-30T20:00:00',
    sold_out: 'false',
    zones: [
      { zone_id: '40', capacity: '200', price: '20.00', name: 'Platea', numbered: 'true' },
      { zone_id: '38', capacity: '0', price: '15.00', name: 'Grada 2', numbered: 'false' },
      { zone_id: '30', capacity: '80', price: '30.00', name: 'A28', numbered: 'true' },
    ],
    ...overrides,
  };
}

function accepted(raw: RawEvent, provider = 'primary'): NormalisedEvent {
  const result = normaliseEvent(provider, raw);
  if (!result.ok) throw new Error(`expected acceptance, got ${result.reason}: ${result.detail}`);
  return result.event;
}

describe('eventId', () => {
  it('is a v5 UUID, the same for the same triple', () => {
    const id = eventId('primary', '322', '1642');
    expect(isUuid(id)).toBe(true);
    expect(uuidVersion(id)).toBe(5);
    expect(eventId('primary', '322', '1642')).toBe(id);
  });

  it('tells apart event 1642 under base events 322, 1591 and 444, and across providers', () => {
    const ids = new Set([
      eventId('primary', '322', '1642'),
      eventId('primary', '1591', '1642'),
      eventId('primary', '444', '1642'),
      eventId('other', '322', '1642'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('cannot be forged by moving characters between the parts', () => {
    expect(eventId('p', '12', '3')).not.toBe(eventId('p', '1', '23'));
    expect(eventId('p|1', '2', '3')).not.toBe(eventId('p', '1|2', '3'));
  });

  it('never changes (ids are promised stable forever)', () => {
    // Pinned: a change of namespace or name layout would silently re-key every stored event.
    expect(eventId('primary', '291', '291')).toBe('d0029646-4661-515c-a20d-927fb8a578e0');
  });

  it("is the `uuid` library's v5 of the length-prefixed name, non-ASCII names included", () => {
    const triples: [string, string, string][] = [
      ['primary', '291', '291'],
      ['primary', '0', '1'],
      ['prövider', 'base_é', 'évent-1'],
      ['p', '日本', '🎫'],
      ['x'.repeat(64), 'y'.repeat(64), 'z'.repeat(64)],
    ];
    for (const [p, b, e] of triples) {
      const name = [p, b, e].map((part) => `${part.length}:${part}`).join('|');
      expect(eventId(p, b, e)).toBe(uuidv5(name, EVENT_ID_NAMESPACE));
    }
  });
});

describe('normaliseEvent on the samples', () => {
  it('291: prices over the zones that still have tickets (Grada 2 has capacity 0)', () => {
    const e = accepted(camela());
    expect(e).toMatchObject({
      id: eventId('primary', '291', '291'),
      provider: 'primary',
      base_event_id: '291',
      event_id: '291',
      title: 'Camela en concierto',
      sell_mode: 'online',
      organizer_company_id: null, // absent in the feed
      starts_at: '2021-06-30T21:00:00',
      ends_at: '2021-06-30T21:30:00',
      sell_from: '2020-07-01T00:00:00',
      sell_to: '2021-06-30T20:00:00',
      sold_out: false,
      min_price: 20,
      max_price: 30,
      zone_count: 3,
      available_capacity: 280,
    });
  });

  it('1591: a repeated zone id is two zones; the sold-out one (capacity 0) is ignored', () => {
    const e = accepted({
      base_event_id: '1591',
      sell_mode: 'online',
      organizer_company_id: '1',
      title: 'Los Morancos',
      event_id: '1642',
      event_start_date: '2021-07-31T20:00:00',
      event_end_date: '2021-07-31T21:00:00',
      sold_out: 'false',
      zones: [
        { zone_id: '186', capacity: '0', price: '75.00' },
        { zone_id: '186', capacity: '12', price: '65.00' },
      ],
    });
    expect(e).toMatchObject({
      organizer_company_id: '1',
      min_price: 65,
      max_price: 65,
      zone_count: 2,
      available_capacity: 12,
    });
  });

  it('444: 2021-09-31 is rejected as invalid_date but keeps its identity (to be recorded as seen)', () => {
    const result = normaliseEvent('primary', {
      base_event_id: '444',
      sell_mode: 'offline',
      organizer_company_id: '1',
      title: 'Tributo a Juanito Valderrama',
      event_id: '1642',
      event_start_date: '2021-09-31T20:00:00',
      event_end_date: '2021-09-31T21:00:00',
      zones: [{ zone_id: '7', capacity: '22', price: '65.00' }],
    });
    expect(result).toEqual({
      ok: false,
      reason: 'invalid_date',
      detail: expect.stringContaining('2021-09-31T20:00:00'),
      identity: {
        id: eventId('primary', '444', '1642'),
        provider: 'primary',
        base_event_id: '444',
        event_id: '1642',
        title: 'Tributo a Juanito Valderrama',
        sell_mode: 'offline',
      },
    });
  });
});

describe('normaliseEvent edge cases', () => {
  it('sold_out="true" leaves no price even with capacity left', () => {
    const e = accepted(camela({ sold_out: 'true' }));
    expect([e.sold_out, e.min_price, e.max_price, e.available_capacity]).toEqual([
      true,
      null,
      null,
      0,
    ]);
  });

  it('no zone with capacity > 0 means no price (null, not 0)', () => {
    const e = accepted(
      camela({
        zones: [
          { zone_id: '1', capacity: '0', price: '10.00' },
          { zone_id: '2', capacity: '0', price: '12.00' },
        ],
      }),
    );
    expect([e.min_price, e.max_price]).toEqual([null, null]);
  });

  it('an event without zones is accepted without prices', () => {
    expect(accepted(camela({ zones: [] }))).toMatchObject({ zone_count: 0, min_price: null });
  });

  it('an end equal to the start is accepted; an end before the start is not', () => {
    expect(accepted(camela({ event_end_date: '2021-06-30T21:00:00' })).ends_at).toBe(
      '2021-06-30T21:00:00',
    );
    expect(
      normaliseEvent('primary', camela({ event_end_date: '2021-06-30T20:59:59' })),
    ).toMatchObject({
      ok: false,
      reason: 'end_before_start',
    });
  });

  it.each([
    [{ event_start_date: undefined }, 'invalid_date', 'event_start_date'],
    [{ event_end_date: 'soon' }, 'invalid_date', 'event_end_date'],
    [{ title: '   ' }, 'missing_title', 'title'],
    [{ sell_mode: 'ONLINE' }, 'invalid_sell_mode', 'sell_mode'],
    [{ zones: [{ zone_id: '40', capacity: '1', price: 'twenty' }] }, 'invalid_price', '"twenty"'],
    [{ zones: [{ zone_id: '40', capacity: '1' }] }, 'invalid_price', 'undefined'],
    [{ zones: [{ zone_id: '40', capacity: '1', price: '-1.00' }] }, 'invalid_price', 'negative'],
    [{ zones: [{ zone_id: '40', capacity: 'lots', price: '1.00' }] }, 'invalid_capacity', 'lots'],
    [{ zones: [{ zone_id: '40', capacity: '-3', price: '1.00' }] }, 'invalid_capacity', 'negative'],
  ] as [Partial<RawEvent>, string, string][])(
    '%p is rejected as %s, naming the value',
    (overrides, reason, mention) => {
      const result = normaliseEvent('primary', camela(overrides));
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.reason).toBe(reason);
      expect(result.detail).toContain('base_event 291 event 291');
      expect(result.detail).toContain(mention);
      expect(result.identity?.id).toBe(eventId('primary', '291', '291'));
    },
  );

  it.each([
    [{ base_event_id: undefined }, 'base_event_id'],
    [{ base_event_id: '' }, 'base_event_id'],
    [{ event_id: undefined }, 'event_id'],
    [{ event_id: 'has spaces' }, 'event_id'],
    [{ event_id: 'x'.repeat(65) }, 'event_id'],
  ] as [Partial<RawEvent>, string][])(
    'a missing or malformed id (%p) is rejected without an identity',
    (overrides, field) => {
      const result = normaliseEvent('primary', camela(overrides));
      expect(result).toMatchObject({ ok: false, reason: 'missing_id', identity: null });
      if (!result.ok) expect(result.detail).toContain(field);
    },
  );

  it('the first bad zone decides the rejection; an offline event stays offline', () => {
    const result = normaliseEvent(
      'primary',
      camela({
        sell_mode: 'offline',
        zones: [
          { zone_id: '1', capacity: 'x', price: 'y' },
          { zone_id: '2', capacity: '1', price: 'z' },
        ],
      }),
    );
    expect(result).toMatchObject({
      ok: false,
      reason: 'invalid_price',
      identity: { sell_mode: 'offline' },
    });
  });
});

describe('toSummary', () => {
  it('is the API contract: local dates and times, prices', () => {
    const e = accepted(camela());
    expect(toSummary(e)).toEqual({
      id: e.id,
      title: 'Camela en concierto',
      start_date: '2021-06-30',
      start_time: '21:00:00',
      end_date: '2021-06-30',
      end_time: '21:30:00',
      min_price: 20,
      max_price: 30,
    });
  });
});
