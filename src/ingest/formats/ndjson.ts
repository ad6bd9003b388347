/**
 * A JSON provider format (the second adapter, docs/adding-a-provider.md): newline-delimited JSON,
 * one base event per line, then a trailer line that closes the feed:
 *
 *   {"id":"291","title":"Camela","sell_mode":"online","organizer_company_id":"1",
 *    "events":[{"id":"291","start":"2021-06-30T21:00:00","end":"2021-06-30T22:00:00",
 *               "sell_from":"2020-07-01T00:00:00","sell_to":"2021-06-30T20:00:00","sold_out":false,
 *               "zones":[{"id":"40","name":"Platea","capacity":243,"price":20,"numbered":true}]}]}
 *   {"end_of_feed":true,"base_events":1}
 *
 * Read line by line as the bytes arrive (memory: one line). The trailer is how a cut feed is told
 * from a complete one: without it (or with another count of base events) the feed is `truncated`
 * and nothing of it is written. A line that is not JSON is `malformed`, a line that is not a base
 * event `structure`, a line longer than the limit `limit`, bytes that are not UTF-8 `encoding`.
 * Scalars become the strings the domain's normalisation checks (`20` -> "20", `false` -> "false"),
 * so a bad value is an event rejected with its reason, as in the XML feed. Unknown keys are counted.
 */
import { TextDecoder } from 'node:util';
import type { RawEvent, RawZone } from '../../domain/event.js';
import { FeedError } from '../errors.js';
import {
  DEFAULT_LIMITS,
  emptyParserStats,
  type ParsedBaseEvent,
  type ParserStats,
} from '../parser.js';
import type { FeedFormat, FeedReader } from './index.js';

export interface NdjsonLimits {
  /** Longest line (one base event), in characters. */
  maxLineLength: number;
  maxEventsPerBaseEvent: number;
  maxZonesPerEvent: number;
}

export const NDJSON_LIMITS: NdjsonLimits = {
  maxLineLength: 8 * 1024 * 1024,
  maxEventsPerBaseEvent: DEFAULT_LIMITS.maxEventsPerBaseEvent,
  maxZonesPerEvent: DEFAULT_LIMITS.maxZonesPerEvent,
};

type Json = Record<string, unknown>;
/** What an event inherits from its base event. */
type BaseAttribute = 'base_event_id' | 'sell_mode' | 'title' | 'organizer_company_id';

const BASE_KEYS = new Set(['id', 'title', 'sell_mode', 'organizer_company_id', 'events']);
const EVENT_KEYS = new Set(['id', 'start', 'end', 'sell_from', 'sell_to', 'sold_out', 'zones']);
const ZONE_KEYS = new Set(['id', 'name', 'capacity', 'price', 'numbered']);

/** A JSON value as the attribute string the domain validates (undefined when absent or null). */
function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class NdjsonFeedReader implements FeedReader {
  readonly stats: ParserStats = emptyParserStats();
  private readonly limits: NdjsonLimits;

  constructor(limits: Partial<NdjsonLimits> = {}) {
    this.limits = { ...NDJSON_LIMITS, ...limits };
  }

  async *parse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<ParsedBaseEvent> {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let pending = '';
    let line = 0;
    let trailer: Json | null = null;
    const decode = (chunk: Uint8Array | string, stream: boolean): string => {
      if (typeof chunk === 'string') {
        this.stats.bytes += Buffer.byteLength(chunk);
        return chunk;
      }
      this.stats.bytes += chunk.byteLength;
      try {
        return decoder.decode(chunk, { stream });
      } catch (err) {
        throw new FeedError('encoding', `the feed is not valid UTF-8 after line ${line}`, false, {
          cause: err,
        });
      }
    };
    const take = (raw: string): ParsedBaseEvent | null => {
      line++;
      if (raw.length > this.limits.maxLineLength) {
        throw new FeedError(
          'limit',
          `line ${line} is longer than ${this.limits.maxLineLength} characters`,
        );
      }
      if (raw.trim() === '') return null;
      if (trailer) {
        throw new FeedError('structure', `line ${line}: content after the end_of_feed trailer`);
      }
      const value = this.json(raw, line);
      if (value.end_of_feed === true) {
        trailer = value;
        return null;
      }
      return this.baseEvent(value, line);
    };

    for await (const chunk of source) {
      pending += decode(chunk, true);
      let start = 0;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
        const base = take(pending.slice(start, nl));
        start = nl + 1;
        if (base) yield base;
      }
      pending = pending.slice(start);
      if (pending.length > this.limits.maxLineLength) {
        throw new FeedError(
          'limit',
          `line ${line + 1} is longer than ${this.limits.maxLineLength} characters`,
        );
      }
    }
    pending += decode(new Uint8Array(0), false);
    const last = take(pending);
    if (last) yield last;
    this.checkEnd(trailer);
  }

  private checkEnd(trailer: Json | null): void {
    if (this.stats.bytes === 0) throw new FeedError('empty', 'the feed is empty');
    if (!trailer) {
      throw new FeedError(
        'truncated',
        `the feed ended after ${this.stats.baseEvents} base events without its end_of_feed trailer (cut short?)`,
      );
    }
    if (trailer.base_events !== this.stats.baseEvents) {
      throw new FeedError(
        'truncated',
        `the trailer announces ${JSON.stringify(trailer.base_events)} base events but the feed holds ${this.stats.baseEvents}`,
      );
    }
  }

  private json(raw: string, line: number): Json {
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      const head = JSON.stringify(raw.slice(0, 40));
      const what = raw.trimStart().startsWith('<') ? ' (an XML or HTML document?)' : '';
      throw new FeedError('malformed', `line ${line} is not JSON${what}: ${head}`, false, {
        cause: err,
      });
    }
    if (!isObject(value)) {
      throw new FeedError('structure', `line ${line} is not a JSON object`);
    }
    return value;
  }

  private unknown(scope: string, value: Json, known: Set<string>): void {
    for (const key of Object.keys(value)) {
      if (known.has(key)) continue;
      const name = `${scope}.${key}`;
      this.stats.unknownElements[name] = (this.stats.unknownElements[name] ?? 0) + 1;
    }
  }

  private baseEvent(value: Json, line: number): ParsedBaseEvent {
    const events = value.events ?? [];
    if (!Array.isArray(events)) {
      throw new FeedError('structure', `line ${line}: "events" is not an array`);
    }
    if (events.length > this.limits.maxEventsPerBaseEvent) {
      throw new FeedError(
        'limit',
        `line ${line}: more than ${this.limits.maxEventsPerBaseEvent} events in one base event`,
      );
    }
    this.unknown('base_event', value, BASE_KEYS);
    const base = {
      base_event_id: text(value.id),
      sell_mode: text(value.sell_mode),
      title: text(value.title),
      organizer_company_id: text(value.organizer_company_id),
    };
    const parsed: ParsedBaseEvent = { base_event_id: base.base_event_id, events: [] };
    for (const event of events) {
      if (!isObject(event)) {
        throw new FeedError('structure', `line ${line}: an event is not a JSON object`);
      }
      parsed.events.push({ ...base, ...this.event(event, line) });
    }
    this.stats.baseEvents++;
    return parsed;
  }

  private event(value: Json, line: number): Omit<RawEvent, BaseAttribute> {
    const zones = value.zones ?? [];
    if (!Array.isArray(zones) || !zones.every(isObject)) {
      throw new FeedError('structure', `line ${line}: "zones" is not an array of objects`);
    }
    if (zones.length > this.limits.maxZonesPerEvent) {
      throw new FeedError(
        'limit',
        `line ${line}: more than ${this.limits.maxZonesPerEvent} zones in one event`,
      );
    }
    this.unknown('event', value, EVENT_KEYS);
    this.stats.events++;
    this.stats.zones += zones.length;
    return {
      event_id: text(value.id),
      event_start_date: text(value.start),
      event_end_date: text(value.end),
      sell_from: text(value.sell_from),
      sell_to: text(value.sell_to),
      sold_out: text(value.sold_out),
      zones: zones.map((zone): RawZone => {
        this.unknown('zone', zone, ZONE_KEYS);
        return {
          zone_id: text(zone.id),
          name: text(zone.name),
          capacity: text(zone.capacity),
          price: text(zone.price),
          numbered: text(zone.numbered),
        };
      }),
    };
  }
}

export const ndjsonFormat: FeedFormat = {
  name: 'ndjson',
  reader: () => new NdjsonFeedReader(),
};
