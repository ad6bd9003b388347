/**
 * The provider simulator's JSON provider (`GET /feed.ndjson`): the same base events as the XML
 * feed, written in the NDJSON format of src/ingest/formats/ndjson.ts (one base event per line, then
 * the `end_of_feed` trailer). It lets a local run and the e2e tests play a second provider with a
 * different format, publishing the same base event and event ids as the first.
 */
import { Readable } from 'node:stream';
import type { RawEvent } from '../domain/event.js';
import { FeedParser } from '../ingest/parser.js';
import { baseEventAt, type FeedOptions } from './feed.js';

/** A base event with its events, as both the sample parser and the generator describe it. */
type BaseLike = Pick<RawEvent, 'base_event_id' | 'sell_mode' | 'title' | 'organizer_company_id'> & {
  events: Omit<RawEvent, 'base_event_id' | 'sell_mode' | 'title' | 'organizer_company_id'>[];
};

/** A decimal text as a JSON number, "true"/"false" as booleans; anything else stays text. */
function typed(value: string | undefined): unknown {
  if (value === 'true' || value === 'false') return value === 'true';
  if (value !== undefined && /^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  return value;
}

/** One line of the NDJSON feed. */
export function ndjsonLine(base: BaseLike): string {
  return `${JSON.stringify({
    id: base.base_event_id,
    title: base.title,
    sell_mode: base.sell_mode,
    organizer_company_id: base.organizer_company_id,
    events: base.events.map((e) => ({
      id: e.event_id,
      start: e.event_start_date,
      end: e.event_end_date,
      sell_from: e.sell_from,
      sell_to: e.sell_to,
      sold_out: typed(e.sold_out),
      zones: e.zones.map((z) => ({
        id: z.zone_id,
        name: z.name,
        capacity: typed(z.capacity),
        price: typed(z.price),
        numbered: typed(z.numbered),
      })),
    })),
  })}\n`;
}

export function ndjsonTrailer(baseEvents: number): string {
  return `${JSON.stringify({ end_of_feed: true, base_events: baseEvents })}\n`;
}

/** An XML sample feed rewritten as NDJSON (same ids, titles, dates and zones). */
export async function ndjsonOfXml(xml: Buffer): Promise<Buffer> {
  const lines: string[] = [];
  for await (const parsed of new FeedParser().parse(Readable.from([xml]))) {
    const first = parsed.events[0];
    lines.push(
      ndjsonLine({ ...first, base_event_id: parsed.base_event_id, events: parsed.events }),
    );
  }
  return Buffer.from(lines.join('') + ndjsonTrailer(lines.length));
}

/** The generated feed (src/sim/feed.ts) as NDJSON, streamed. */
export function generateNdjsonFeed(options: FeedOptions): Readable {
  async function* lines(): AsyncGenerator<string> {
    for (let i = 0; i < options.baseEvents; i++) yield ndjsonLine(baseEventAt(options, i));
    yield ndjsonTrailer(options.baseEvents);
  }
  return Readable.from(lines());
}
