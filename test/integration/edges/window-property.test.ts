/**
 * Issues 16 and 17, property: for random events of a provider in a zone with daylight-saving time
 * (Europe/Madrid, around both 2021 transitions) and random windows, the API's answer equals a
 * brute-force filter of the events the feed carried (docs/adr/0004-*.md):
 * - each event's times are turned into instants with Madrid's rules (here by searching Intl's
 *   readings, not the service's luxon code): a time shown once is that instant, a time shown twice
 *   (overlap) the earlier one, a time skipped (gap) is read with the offset before the change;
 * - a bound with an offset is an instant compared with the events' instants; a bound without one
 *   is a wall-clock time compared with the events' wall-clock times as written;
 * - two instants are ordered as instants, two wall-clock times on the clock, a mixed window is
 *   reversed only a whole day apart; a reversed window is a 400 `invalid_range`;
 * - an online event matches when it starts at or after the lower bound and ends at or before the
 *   upper bound; an open-ended event only when there is no upper bound; ordered by start instant,
 *   then start wall clock, then id.
 * Events enter through the real ingest run (PROVIDER_TIMEZONE=Europe/Madrid), answers come from
 * the real API app.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { eventId } from '../../../src/domain/event.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bootstrap, eventsOf, ingestFeed, searchApi, type FeedEvent } from './support.js';

const ZONE = 'Europe/Madrid';
const env = testStoreEnv('edge-window-property');
const client = testClient(env);
const prefixes: string[] = [];

afterAll(async () => {
  for (const prefix of prefixes) await dropPrefix(client, prefix);
  await client.close();
});

/** Days around Madrid's 2021 transitions (gap on 03-28 at 02:00, overlap on 10-31 at 02:00). */
const DAYS = ['2021-03-27', '2021-03-28', '2021-03-29', '2021-10-30', '2021-10-31', '2021-11-01'];
const pad = (n: number) => String(n).padStart(2, '0');

/** A wall-clock time on a coarse grid (so bounds often equal event times), mostly at night. */
const wallClock = fc
  .record({
    day: fc.constantFrom(...DAYS),
    hour: fc.oneof(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 23 })),
    minute: fc.constantFrom(0, 10, 20, 30, 40, 50),
  })
  .map(({ day, hour, minute }) => `${day}T${pad(hour)}:${pad(minute)}:00`);

/** `wall` plus `minutes` as naive wall-clock arithmetic (the provider's clock, no zone). */
function addMinutes(wall: string, minutes: number): string {
  return new Date(Date.parse(`${wall}Z`) + minutes * 60_000).toISOString().slice(0, 19);
}

interface GenEvent {
  start: string;
  end: string | null;
  online: boolean;
}
const genEvent: fc.Arbitrary<GenEvent> = fc
  .record({
    start: wallClock,
    minutes: fc.option(
      fc.integer({ min: 0, max: 36 }).map((n) => n * 10),
      { freq: 5 },
    ),
    online: fc.boolean(),
  })
  .map(({ start, minutes, online }) => ({
    start,
    end: minutes === null ? null : addMinutes(start, minutes),
    online,
  }));

/** A query bound: a wall-clock time, or an instant written with an offset. */
type Bound = { wall: string } | { instant: string };
const genBound: fc.Arbitrary<Bound | null> = fc.option(
  fc.oneof(
    wallClock.map((wall) => ({ wall })),
    fc
      .record({
        at: wallClock,
        offset: fc.constantFrom('Z', '+01:00', '+02:00', '-03:00', '+05:30'),
      })
      .map(({ at, offset }) => ({ instant: `${at}${offset}` })),
  ),
  { freq: 4 },
);
const genWindow = fc.record({ start: genBound, end: genBound });

const madrid = new Intl.DateTimeFormat('en-GB', {
  timeZone: ZONE,
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});
/** Madrid wall-clock time of an instant, by Intl (independent of the service's luxon code). */
function madridWall(ms: number): string {
  const p = Object.fromEntries(madrid.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}
const HOUR = 3_600_000;
/**
 * The instant of a Madrid wall-clock time, by brute force over Madrid's two offsets (+01:00,
 * +02:00) and Intl: the earlier reading that shows it; none (a gap): the first minute the clock
 * shows a later time (Madrid changes on the hour).
 */
function madridInstant(wall: string): number {
  const asUtc = Date.parse(`${wall}Z`);
  const readings = [asUtc - 2 * HOUR, asUtc - HOUR].filter((t) => madridWall(t) === wall);
  if (readings.length > 0) return Math.min(...readings);
  let t = asUtc - 2 * HOUR;
  while (madridWall(t) < wall) t += 60_000;
  return t;
}
const text = (b: Bound) => ('wall' in b ? b.wall : b.instant);
/** For the order of a mixed window: the instant, or the wall-clock time read as UTC. */
const msOf = (b: Bound) => ('wall' in b ? Date.parse(`${b.wall}Z`) : Date.parse(b.instant));

/** The brute-force answer: null for a 400 `invalid_range`, else the ids in order. */
function expected(
  events: (GenEvent & { id: string })[],
  window: { start: Bound | null; end: Bound | null },
): string[] | null {
  const { start, end } = window;
  if (start && end) {
    const reversed =
      'instant' in start && 'instant' in end
        ? Date.parse(start.instant) > Date.parse(end.instant)
        : 'wall' in start && 'wall' in end
          ? start.wall > end.wall
          : msOf(start) - msOf(end) >= 24 * HOUR;
    if (reversed) return null;
  }
  const timed = events.map((e) => ({
    ...e,
    startMs: madridInstant(e.start),
    endMs: e.end === null ? null : madridInstant(e.end),
  }));
  const startsAfter = (e: (typeof timed)[number]) =>
    start === null ||
    ('wall' in start ? e.start >= start.wall : e.startMs >= Date.parse(start.instant));
  const endsBefore = (e: (typeof timed)[number]) =>
    end === null ||
    (e.end !== null &&
      e.endMs !== null &&
      ('wall' in end ? e.end <= end.wall : e.endMs <= Date.parse(end.instant)));
  const compare = (a: (typeof timed)[number], b: (typeof timed)[number]) =>
    a.startMs - b.startMs ||
    (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id < b.id ? -1 : 1);
  return timed
    .filter((e) => e.online && startsAfter(e) && endsBefore(e))
    .sort(compare)
    .map((e) => e.id);
}

describe('the search window rule (property, Europe/Madrid)', () => {
  it('answers exactly what a brute-force filter of the ingested events gives', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(genEvent, { maxLength: 30 }),
        fc.array(genWindow, { minLength: 1, maxLength: 30 }),
        async (generated, windows) => {
          const prefix = `${env.ES_INDEX_PREFIX}-${run++}`;
          prefixes.push(prefix);
          const names = await bootstrap(client, prefix);
          const events = generated.map((e, i) => ({ ...e, id: eventId('primary', `p${i}`, '1') }));
          const feed: FeedEvent[] = events.map((e, i) => ({
            base: `p${i}`,
            mode: e.online ? 'online' : 'offline',
            start: e.start,
            ...(e.end === null ? {} : { end: e.end }),
          }));
          await ingestFeed(client, prefix, feed, { timeZone: ZONE });
          const search = searchApi(names);
          for (const window of windows) {
            const query = [
              window.start ? `starts_at=${encodeURIComponent(text(window.start))}` : '',
              window.end ? `ends_at=${encodeURIComponent(text(window.end))}` : '',
            ]
              .filter(Boolean)
              .join('&');
            const res = await search(query);
            const want = expected(events, window);
            if (want === null) {
              expect({ query, status: res.status, body: res.body }).toMatchObject({
                status: 400,
                body: { error: { code: 'invalid_range' } },
              });
            } else {
              expect({ query, ids: eventsOf(res).map((e) => e.id) }).toEqual({ query, ids: want });
            }
          }
          await dropPrefix(client, prefix);
        },
      ),
      { numRuns: 12 },
    );
  }, 300_000);
});
