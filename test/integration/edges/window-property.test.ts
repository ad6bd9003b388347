/**
 * Issue 16, property: for random events and random windows in a zone with daylight-saving time
 * (Europe/Madrid, around both 2021 transitions), the API's answer equals a brute-force filter of
 * the events the feed carried (docs/adr/0004-*.md):
 * - a bound with an offset is an instant, turned into Madrid wall-clock time (here with Intl, not
 *   the service's luxon code); a bound without one is wall-clock time as written;
 * - two instants are ordered as instants, otherwise the bounds are ordered on the wall clock; a
 *   reversed window is a 400 `invalid_range`;
 * - an online event matches when it starts at or after the lower bound and ends at or before the
 *   upper bound; an open-ended event only when there is no upper bound; ordered by start then id.
 * Events enter through the real ingest run, answers come from the real API app.
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
const wallOf = (b: Bound) => ('wall' in b ? b.wall : madridWall(Date.parse(b.instant)));
const text = (b: Bound) => ('wall' in b ? b.wall : b.instant);

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
        : wallOf(start) > wallOf(end);
    if (reversed) return null;
  }
  const from = start ? wallOf(start) : null;
  const to = end ? wallOf(end) : null;
  return events
    .filter(
      (e) =>
        e.online &&
        (from === null || e.start >= from) &&
        (to === null || (e.end !== null && e.end <= to)),
    )
    .sort((a, b) => (a.start === b.start ? (a.id < b.id ? -1 : 1) : a.start < b.start ? -1 : 1))
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
          await ingestFeed(client, prefix, feed);
          const search = searchApi(client, names, ZONE);
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
