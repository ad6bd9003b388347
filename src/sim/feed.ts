/**
 * A deterministic, streaming generator of feeds in the provider's XML format.
 *
 * The same options always produce the same bytes. The document is produced lazily, a batch of
 * base events at a time, so a feed of any size costs a constant amount of memory: the provider
 * simulator pipes it into an HTTP response, the benchmarks write it to a file and the large-feed
 * tests ingest it.
 *
 * Every base event is a pure function of (options, index): `baseEventAt` lets a test compute what
 * the feed holds at any position without generating or parsing the document.
 */
import { Readable } from 'node:stream';

export interface FeedOptions {
  /** Number of `<base_event>` elements. */
  baseEvents: number;
  /** `<zone>` elements in every `<event>`. */
  zonesPerEvent: number;
  /** Seed of the pseudo-random choices (any integer). */
  seed: number;
  /** Share of base events sold online, 0..1 (default 0.8). */
  onlineRatio?: number;
  /** `<event>` elements in every base event (default 1). */
  eventsPerBaseEvent?: number;
  /** First `base_event_id` (default 1); ids then increase by one. */
  firstBaseEventId?: number;
  /** Events start on a day in [startDate, startDate + spreadDays) (defaults 2021-01-01, 365). */
  startDate?: string;
  spreadDays?: number;
  /** Approximate size of each chunk the stream emits (default 64 KiB). */
  chunkBytes?: number;
}

export interface SimZone {
  zone_id: string;
  capacity: string;
  price: string;
  name: string;
  numbered: string;
}

export interface SimEvent {
  event_id: string;
  event_start_date: string;
  event_end_date: string;
  sell_from: string;
  sell_to: string;
  sold_out: 'true' | 'false';
  zones: SimZone[];
}

export interface SimBaseEvent {
  base_event_id: string;
  sell_mode: 'online' | 'offline';
  title: string;
  /** Absent on some base events, as in the provider's samples. */
  organizer_company_id?: string;
  events: SimEvent[];
}

const TITLES = [
  'Camela en concierto',
  'Pantomima Full',
  'Los Morancos',
  'Tributo a Juanito Valderrama',
  'Rock & Roll Night',
  'El "Gran" Circo',
  'Orquesta <Sinfónica>',
  'Monólogos de medianoche',
  'Jazz al aire libre',
  'Teatro Clásico',
];
const ZONE_NAMES = ['Platea', 'Grada 1', 'Grada 2', 'Amfiteatre', 'Palco', 'A28', 'A42', 'Pista'];

/** mulberry32: a tiny, fast, well-distributed 32-bit PRNG (deterministic across platforms). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A PRNG for one base event, independent of every other one (random access by index). */
function rngFor(seed: number, index: number): () => number {
  return mulberry32(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35));
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DDTHH:mm:ss` of a wall-clock time held in a Date's UTC fields. */
function local(date: Date): string {
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`
  );
}

function validate(options: FeedOptions): Required<FeedOptions> {
  const o: Required<FeedOptions> = {
    onlineRatio: 0.8,
    eventsPerBaseEvent: 1,
    firstBaseEventId: 1,
    startDate: '2021-01-01',
    spreadDays: 365,
    chunkBytes: 64 * 1024,
    ...options,
  };
  const integers: [keyof FeedOptions, number][] = [
    ['baseEvents', 0],
    ['zonesPerEvent', 0],
    ['eventsPerBaseEvent', 1],
    ['firstBaseEventId', 0],
    ['spreadDays', 1],
    ['chunkBytes', 1],
  ];
  for (const [name, min] of integers) {
    const value = o[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`generateFeed: ${name} must be an integer >= ${min} (got ${value})`);
    }
  }
  if (!Number.isInteger(o.seed)) throw new RangeError(`generateFeed: seed must be an integer`);
  if (!(o.onlineRatio >= 0 && o.onlineRatio <= 1)) {
    throw new RangeError(`generateFeed: onlineRatio must be within 0..1 (got ${o.onlineRatio})`);
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(o.startDate) || Number.isNaN(Date.parse(o.startDate))) {
    throw new RangeError(`generateFeed: startDate must be YYYY-MM-DD (got ${o.startDate})`);
  }
  return o;
}

/** The base event at `index` (0-based) of the feed `options` describes. Pure. */
export function baseEventAt(options: FeedOptions, index: number): SimBaseEvent {
  const o = validate(options);
  return makeBaseEvent(o, index);
}

function makeBaseEvent(o: Required<FeedOptions>, index: number): SimBaseEvent {
  const rand = rngFor(o.seed, index);
  const int = (min: number, max: number) => min + Math.floor(rand() * (max - min + 1));
  const baseId = o.firstBaseEventId + index;
  const online = rand() < o.onlineRatio;
  const title = `${TITLES[int(0, TITLES.length - 1)] as string} #${baseId}`;
  const organizer = rand() < 0.7 ? String(int(1, 50)) : undefined;
  const start0 = Date.parse(`${o.startDate}T00:00:00Z`);

  const events: SimEvent[] = [];
  for (let e = 0; e < o.eventsPerBaseEvent; e++) {
    const day = int(0, o.spreadDays - 1);
    const start = new Date(
      start0 + day * 86_400_000 + int(10, 22) * 3_600_000 + int(0, 3) * 900_000,
    );
    const end = new Date(start.getTime() + int(4, 16) * 900_000);
    const sellFrom = new Date(start.getTime() - int(10, 120) * 86_400_000);
    const sellTo = new Date(start.getTime() - 600_000);
    const zones: SimZone[] = [];
    for (let z = 0; z < o.zonesPerEvent; z++) {
      // Now and then a zone id repeats, as in the provider's samples.
      const previous = zones[z - 1];
      const zoneId = previous && rand() < 0.05 ? previous.zone_id : String(z + 1);
      zones.push({
        zone_id: zoneId,
        capacity: rand() < 0.1 ? '0' : String(int(1, 500)),
        price: (int(10, 400) / 2).toFixed(2),
        name: ZONE_NAMES[int(0, ZONE_NAMES.length - 1)] as string,
        numbered: rand() < 0.5 ? 'true' : 'false',
      });
    }
    events.push({
      // Event ids repeat across base events, as in the samples (identity includes the base id).
      event_id: String(1000 + ((index * o.eventsPerBaseEvent + e) % 5000)),
      event_start_date: local(start),
      event_end_date: local(end),
      sell_from: local(sellFrom),
      sell_to: local(sellTo),
      sold_out: rand() < 0.03 ? 'true' : 'false',
      zones,
    });
  }
  const base: SimBaseEvent = {
    base_event_id: String(baseId),
    sell_mode: online ? 'online' : 'offline',
    title,
    events,
  };
  if (organizer !== undefined) base.organizer_company_id = organizer;
  return base;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function attr(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

export const FEED_HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<eventList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0" ' +
  'xsi:noNamespaceSchemaLocation="eventList.xsd">\n   <output>\n';
export const FEED_FOOTER = '   </output>\n</eventList>\n';

/** The XML of one base event, indented like the provider's feed. */
export function renderBaseEvent(base: SimBaseEvent): string {
  const organizer =
    base.organizer_company_id === undefined
      ? ''
      : ` organizer_company_id="${attr(base.organizer_company_id)}"`;
  let xml =
    `      <base_event base_event_id="${attr(base.base_event_id)}" sell_mode="${base.sell_mode}"` +
    `${organizer} title="${attr(base.title)}">\n`;
  for (const ev of base.events) {
    xml +=
      `         <event event_start_date="${ev.event_start_date}" event_end_date="${ev.event_end_date}"` +
      ` event_id="${attr(ev.event_id)}" sell_from="${ev.sell_from}" sell_to="${ev.sell_to}"` +
      ` sold_out="${ev.sold_out}">\n`;
    for (const z of ev.zones) {
      xml +=
        `            <zone zone_id="${attr(z.zone_id)}" capacity="${z.capacity}" price="${z.price}"` +
        ` name="${attr(z.name)}" numbered="${z.numbered}" />\n`;
    }
    xml += '         </event>\n';
  }
  return xml + '      </base_event>\n';
}

/** The feed as an async iterable of UTF-8 chunks (each about `chunkBytes`), produced lazily. */
export async function* feedChunks(options: FeedOptions): AsyncGenerator<Buffer> {
  const o = validate(options);
  let pending = FEED_HEADER;
  for (let i = 0; i < o.baseEvents; i++) {
    pending += renderBaseEvent(makeBaseEvent(o, i));
    if (pending.length >= o.chunkBytes) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
    }
  }
  yield Buffer.from(pending + FEED_FOOTER, 'utf8');
}

/**
 * A byte stream of the whole feed, generated as it is read (backpressure-aware: nothing is
 * produced faster than the consumer reads). Options are validated immediately.
 */
export function generateFeed(options: FeedOptions): Readable {
  validate(options);
  return Readable.from(feedChunks(options), { objectMode: false });
}
