import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { normaliseEvent } from '../../../src/domain/event.js';
import { FeedParser } from '../../../src/ingest/parser.js';
import { baseEventAt, feedChunks, generateFeed, type FeedOptions } from '../../../src/sim/feed.js';

async function bytesOf(options: FeedOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of generateFeed(options)) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('generateFeed', () => {
  const options: FeedOptions = {
    baseEvents: 200,
    zonesPerEvent: 5,
    seed: 7,
    eventsPerBaseEvent: 2,
  };

  it('is deterministic: same options, same bytes; another seed, another feed', async () => {
    const a = await bytesOf(options);
    expect(sha(await bytesOf(options))).toBe(sha(a));
    expect(sha(await bytesOf({ ...options, seed: 8 }))).not.toBe(sha(a));
    expect(a.subarray(0, 38).toString()).toBe('<?xml version="1.0" encoding="UTF-8"?>');
  });

  it('is a valid feed the ingester parses into exactly the events baseEventAt describes', async () => {
    const parser = new FeedParser();
    let i = 0;
    for await (const base of parser.parse(generateFeed(options))) {
      const expected = baseEventAt(options, i++);
      expect(base.base_event_id).toBe(expected.base_event_id);
      expect(base.events).toEqual(
        expected.events.map(({ zones, ...ev }) => ({
          base_event_id: expected.base_event_id,
          sell_mode: expected.sell_mode,
          title: expected.title,
          ...(expected.organizer_company_id === undefined
            ? {}
            : { organizer_company_id: expected.organizer_company_id }),
          ...ev,
          zones,
        })),
      );
    }
    expect(parser.stats).toMatchObject({
      baseEvents: 200,
      events: 400,
      zones: 2000,
      unknownElements: {},
    });
  });

  it('produces events the domain accepts, with escaped titles, missing organizers and sold-out zones', async () => {
    const bases = Array.from({ length: 300 }, (_, i) => baseEventAt(options, i));
    const events = bases.flatMap((b) => b.events.map((e) => ({ ...b, ...e })));
    for (const raw of events) {
      const result = normaliseEvent('primary', raw);
      expect(result.ok ? 'ok' : `${result.reason}: ${result.detail}`).toBe('ok');
    }
    expect(bases.some((b) => b.organizer_company_id === undefined)).toBe(true);
    expect(bases.some((b) => /[&<>"]/.test(b.title))).toBe(true);
    expect(events.some((e) => e.zones.some((z) => z.capacity === '0'))).toBe(true);
    const online = bases.filter((b) => b.sell_mode === 'online').length / bases.length;
    expect(online).toBeGreaterThan(0.7);
    expect(online).toBeLessThan(0.9);
  });

  it('honours onlineRatio', () => {
    const all = (ratio: number) =>
      Array.from(
        { length: 50 },
        (_, i) => baseEventAt({ ...options, onlineRatio: ratio }, i).sell_mode,
      );
    expect(new Set(all(0))).toEqual(new Set(['offline']));
    expect(new Set(all(1))).toEqual(new Set(['online']));
  });

  it('is lazy: the first chunks of an enormous feed come at once', async () => {
    const started = Date.now();
    const iterator = feedChunks({ baseEvents: 1e9, zonesPerEvent: 100, seed: 1 });
    let bytes = 0;
    for (let i = 0; i < 3; i++) bytes += ((await iterator.next()).value as Buffer).length;
    await iterator.return(undefined);
    expect(bytes).toBeGreaterThan(3 * 60_000);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses options it cannot honour', () => {
    expect(() => generateFeed({ baseEvents: -1, zonesPerEvent: 1, seed: 1 })).toThrow(
      'generateFeed: baseEvents must be an integer >= 0 (got -1)',
    );
    expect(() => generateFeed({ baseEvents: 1, zonesPerEvent: 1.5, seed: 1 })).toThrow(RangeError);
    expect(() =>
      generateFeed({ baseEvents: 1, zonesPerEvent: 1, seed: 1, onlineRatio: 2 }),
    ).toThrow(/onlineRatio/);
  });

  it('an empty feed is still a well-formed document', async () => {
    const parser = new FeedParser();
    for await (const _ of parser.parse(generateFeed({ baseEvents: 0, zonesPerEvent: 0, seed: 1 })))
      void _;
    expect(parser.stats.baseEvents).toBe(0);
  });
});
