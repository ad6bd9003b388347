/**
 * Streaming parser of the provider's feed (saxes; docs/adr/0005-streaming-xml-parser.md).
 *
 * `<eventList><output><base_event ...><event ...><zone .../></event></base_event></output></eventList>`
 *
 * The byte stream is decoded and fed to saxes slice by slice; every `<base_event>` is handed out as
 * soon as it closes, and the next bytes are only read when the consumer asks for the next base
 * event. Memory is bounded by one base event plus one slice, whatever the size of the feed.
 *
 * The bytes are decoded as the document says (docs/adr/0002-ever-online-and-rejected-events.md):
 * a byte order mark, else the XML declaration's `encoding`, else UTF-8. UTF-8 (and US-ASCII),
 * UTF-16, ISO-8859-1 and windows-1252 are read; any other declared encoding is refused, named.
 *
 * A hostile or broken feed is refused with a precise `FeedError`: a DOCTYPE (entity declarations:
 * billion laughs, XXE), over-long tokens, attributes or nesting, bytes that are not valid in the
 * feed's encoding, an HTML page, an empty body, malformed or truncated XML. Unknown elements are
 * skipped (with their content) and counted.
 */
import { TextDecoder } from 'node:util';
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import type { RawEvent, RawZone } from '../domain/event.js';
import { FeedError, type FeedErrorCode } from './errors.js';

/** One `<base_event>` and its `<event>`s, each carrying its parent's attributes. */
export interface ParsedBaseEvent {
  base_event_id: string | undefined;
  events: RawEvent[];
}

export interface ParserLimits {
  /** Deepest element nesting accepted (the feed needs 5). */
  maxDepth: number;
  /** Longest value of an attribute the ingester reads, in characters. */
  maxAttributeLength: number;
  /**
   * Longest single token, in characters: a start tag with all its attributes (this also bounds
   * their number), a text node, a comment.
   */
  maxTokenLength: number;
  /** Most `<event>`s in one base event and `<zone>`s in one event. */
  maxEventsPerBaseEvent: number;
  maxZonesPerEvent: number;
}

export const DEFAULT_LIMITS: ParserLimits = {
  maxDepth: 32,
  maxAttributeLength: 8 * 1024,
  maxTokenLength: 1024 * 1024,
  maxEventsPerBaseEvent: 10_000,
  maxZonesPerEvent: 100_000,
};

export interface ParserStats {
  /** Bytes received (before decoding). */
  bytes: number;
  baseEvents: number;
  events: number;
  zones: number;
  /** Unknown elements skipped, by name (the outermost one of a skipped subtree). */
  unknownElements: Record<string, number>;
}

/** The stats of a reader that has read nothing yet (every feed format counts the same things). */
export function emptyParserStats(): ParserStats {
  return { bytes: 0, baseEvents: 0, events: 0, zones: 0, unknownElements: {} };
}

/** Characters handed to saxes at a time; token limits are checked between slices. */
const SLICE = 64 * 1024;
/** Distinct unknown element names remembered; the rest are counted under `(other)`. */
const MAX_UNKNOWN_NAMES = 50;

const BASE_ATTRS = ['base_event_id', 'sell_mode', 'title', 'organizer_company_id'] as const;
const EVENT_ATTRS = [
  'event_id',
  'event_start_date',
  'event_end_date',
  'sell_from',
  'sell_to',
  'sold_out',
] as const;
const ZONE_ATTRS = ['zone_id', 'capacity', 'price', 'name', 'numbered'] as const;

function pick<K extends string>(
  attributes: Record<string, string>,
  keys: readonly K[],
): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const key of keys) {
    const value = attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/** The decoders this parser uses; ISO-8859-1 is read as windows-1252 (see `encodingFamily`). */
export type FeedEncoding = 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' | 'windows-1252';

/** Encodings a feed may declare, as the refusal of any other names them. */
export const SUPPORTED_ENCODINGS = 'UTF-8 (or US-ASCII), UTF-16, ISO-8859-1 and windows-1252';

/** How far into an ASCII-compatible document the XML declaration's end is looked for. */
const DECLARATION_WINDOW = 1024;

/**
 * The family of a declared encoding name, or null when this parser does not read it. ISO-8859-1
 * (and its aliases) is read as windows-1252, as the WHATWG Encoding Standard (and so Node's
 * TextDecoder) does: they differ only on 0x80-0x9F, control characters in ISO-8859-1 that no feed
 * means, printable (`€`, `‘`...) in windows-1252.
 */
export function encodingFamily(declared: string): 'UTF-8' | 'UTF-16' | 'windows-1252' | null {
  const name = declared.trim().toLowerCase();
  if (/^(utf-?8|us-ascii|ascii)$/.test(name)) return 'UTF-8';
  if (/^(utf-?16|utf-?16le|utf-?16be)$/.test(name)) return 'UTF-16';
  if (
    /^(iso[-_]?8859-1|iso_8859-1:1987|latin-?1|l1|cp819|ibm819|windows-1252|cp1252)$/.test(name)
  ) {
    return 'windows-1252';
  }
  return null;
}

const DECLARED_ENCODING = /^\uFEFF?<\?xml\s[^>]*?\bencoding\s*=\s*(["'])([^"']*)\1/;

function unsupported(declared: string): FeedError {
  return new FeedError(
    'encoding',
    `the feed declares encoding ${JSON.stringify(declared)}, which is not supported; supported: ${SUPPORTED_ENCODINGS}`,
  );
}

/**
 * Chooses the decoder of a byte stream from its first bytes (XML 1.0, appendix F): a byte order
 * mark, the UTF-16 form of `<?`, else the declaration (ASCII in every encoding read here) of an
 * ASCII-compatible document. Null: more bytes are needed to tell (never when `final`).
 *
 * @throws FeedError `encoding` for a declared encoding that is not read, or UTF-16 declared over
 *   8-bit bytes.
 */
export function sniffEncoding(bytes: Uint8Array, final: boolean): FeedEncoding | null {
  const [b0, b1, b2, b3] = bytes;
  if (bytes.length < 4 && !final) return null;
  if (b0 === 0xef && b1 === 0xbb && b2 === 0xbf) return 'UTF-8';
  if (b0 === 0xff && b1 === 0xfe) return 'UTF-16LE';
  if (b0 === 0xfe && b1 === 0xff) return 'UTF-16BE';
  if (b0 === 0x3c && b1 === 0x00 && b2 === 0x3f && b3 === 0x00) return 'UTF-16LE';
  if (b0 === 0x00 && b1 === 0x3c && b2 === 0x00 && b3 === 0x3f) return 'UTF-16BE';
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    .subarray(0, DECLARATION_WINDOW)
    .toString('latin1');
  if (!head.startsWith('<?xml')) {
    return !final && head.length < 5 && '<?xml'.startsWith(head) ? null : 'UTF-8';
  }
  const end = head.indexOf('?>');
  if (end < 0) {
    // A declaration not finished yet; one that never finishes is saxes' to report.
    return final || bytes.length >= DECLARATION_WINDOW ? 'UTF-8' : null;
  }
  const declared = DECLARED_ENCODING.exec(head.slice(0, end + 2))?.[2];
  if (declared === undefined) return 'UTF-8';
  const family = encodingFamily(declared);
  if (family === null) throw unsupported(declared);
  if (family === 'UTF-16') {
    throw new FeedError(
      'encoding',
      `the feed declares encoding ${JSON.stringify(declared)} but is written in 8-bit characters (no UTF-16 byte order mark)`,
    );
  }
  return family;
}

function looksLikeHtml(head: string): boolean {
  return /^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<(!doctype\s+html|html[\s>])/i.test(head);
}

function snippet(text: string): string {
  const s = text.replace(/\s+/g, ' ').trim();
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/**
 * Parses one feed. `stats` is filled in as the feed is read, so it is meaningful also after a
 * failure (how far the parser got).
 */
export class FeedParser {
  readonly stats: ParserStats = emptyParserStats();
  private readonly limits: ParserLimits;

  constructor(limits: Partial<ParserLimits> = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  /** Yields every base event of `source` (bytes or strings) in document order. */
  async *parse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<ParsedBaseEvent> {
    const limits = this.limits;
    const stats = this.stats;
    const parser = new SaxesParser({ position: true, xmlns: false });
    const ready: ParsedBaseEvent[] = [];

    /** Element names from the root down to the current element. */
    const stack: string[] = [];
    /** Depth at which an unknown subtree started (0: not skipping). */
    let skipFrom = 0;
    let rootSeen = false;
    let rootClosed = false;
    /** The first characters of the document, quoted in messages about non-XML bodies. */
    let head = '';
    /** saxes position of the last completed token (tag, text, comment...). */
    let mark = 0;
    let base: ParsedBaseEvent | null = null;
    let baseAttrs: Partial<Record<(typeof BASE_ATTRS)[number], string>> = {};
    let event: RawEvent | null = null;

    const where = () => `line ${parser.line}, column ${parser.column + 1}`;
    const fail = (code: FeedErrorCode, message: string): never => {
      throw new FeedError(code, message);
    };

    /** A saxes well-formedness error as a FeedError (our own FeedErrors pass through). */
    const translate = (err: unknown): FeedError => {
      if (err instanceof FeedError) return err;
      const reason = (err instanceof Error ? err.message : String(err)).replace(/^\d+:\d+: /, '');
      if (!rootSeen && looksLikeHtml(head)) {
        return new FeedError(
          'html',
          `the provider sent an HTML page instead of the XML feed: ${snippet(head)}`,
        );
      }
      if (!rootSeen) {
        return new FeedError(
          head.trim() === '' ? 'empty' : 'malformed',
          `the body is not an XML document (${reason} at ${where()}); it starts with ${snippet(head)}`,
        );
      }
      return new FeedError('malformed', `malformed XML at ${where()}: ${reason}`);
    };
    /** Refuses a value this parser keeps when it is longer than allowed. */
    const checkLengths = (tag: SaxesTagPlain, keys: readonly string[]): void => {
      for (const key of keys) {
        const value = tag.attributes[key];
        if (value !== undefined && value.length > limits.maxAttributeLength) {
          fail(
            'limit',
            `attribute ${key} of <${tag.name}> at ${where()} is ${value.length} characters long (limit ${limits.maxAttributeLength})`,
          );
        }
      }
    };
    /** Reads the values this parser keeps, refusing one that is longer than allowed. */
    const pickChecked = <K extends string>(
      tag: SaxesTagPlain,
      keys: readonly K[],
    ): Partial<Record<K, string>> => {
      checkLengths(tag, keys);
      return pick(tag.attributes, keys);
    };

    // Only three handlers: every handler saxes is given becomes a property added to the parser,
    // and past a handful V8 turns the object into a slow dictionary and the whole parse gets
    // several times slower (see bench/parse.ts). Token sizes are checked between slices instead
    // of in text/comment handlers; the declared encoding is read from the head of the document.
    parser.on('doctype', (doctype) => {
      if (/^\s*html\b/i.test(doctype)) {
        fail('html', `the provider sent an HTML page instead of the XML feed: ${snippet(head)}`);
      }
      fail(
        'doctype',
        `a DOCTYPE declaration at ${where()} was refused: the feed must not declare a DTD or entities`,
      );
    });
    parser.on('opentag', (tag: SaxesTagPlain) => {
      // No attribute of a tag shorter than the limit (whitespace before it included) can be
      // longer: the per-attribute check is only needed for longer tags.
      const short = parser.position - mark <= limits.maxAttributeLength;
      mark = parser.position;
      const name = tag.name;
      const depth = stack.length; // depth of the parent (0: this is the root)
      if (depth + 1 > limits.maxDepth) {
        fail(
          'limit',
          `elements are nested more than ${limits.maxDepth} deep at ${where()} (<${name}>)`,
        );
      }
      stack.push(name);
      if (skipFrom > 0) return;
      if (depth === 0) {
        rootSeen = true;
        if (name.toLowerCase() === 'html') {
          fail('html', `the provider sent an HTML page instead of the XML feed: ${snippet(head)}`);
        }
        if (name !== 'eventList') {
          fail('structure', `the root element is <${name}>, expected <eventList>`);
        }
        return;
      }
      const parent = stack[depth - 1];
      if (parent === 'eventList' && name === 'output' && depth === 1) return;
      if (parent === 'output' && name === 'base_event' && depth === 2) {
        baseAttrs = pickChecked(tag, BASE_ATTRS);
        base = { base_event_id: baseAttrs.base_event_id, events: [] };
        return;
      }
      if (parent === 'base_event' && name === 'event' && base) {
        if (base.events.length >= limits.maxEventsPerBaseEvent) {
          fail(
            'limit',
            `base_event ${base.base_event_id ?? '?'} has more than ${limits.maxEventsPerBaseEvent} events`,
          );
        }
        event = { ...baseAttrs, ...pickChecked(tag, EVENT_ATTRS), zones: [] };
        base.events.push(event);
        stats.events++;
        return;
      }
      if (parent === 'event' && name === 'zone' && event) {
        if (event.zones.length >= limits.maxZonesPerEvent) {
          fail(
            'limit',
            `event ${event.event_id ?? '?'} has more than ${limits.maxZonesPerEvent} zones`,
          );
        }
        // The tag's own attributes (a fresh object per tag): a zone is read a million times per
        // feed, and a copy of its values would only make more garbage.
        if (!short) checkLengths(tag, ZONE_ATTRS);
        const zone: RawZone = tag.attributes;
        event.zones.push(zone);
        stats.zones++;
        return;
      }
      // Anything else: skip it and everything inside it, and count it.
      skipFrom = stack.length;
      const known = Object.hasOwn(stats.unknownElements, name);
      const key =
        known || Object.keys(stats.unknownElements).length < MAX_UNKNOWN_NAMES ? name : '(other)';
      stats.unknownElements[key] = (stats.unknownElements[key] ?? 0) + 1;
    });
    parser.on('closetag', () => {
      mark = parser.position;
      const depth = stack.length;
      const name = stack.pop();
      if (skipFrom > 0) {
        if (depth === skipFrom) skipFrom = 0;
        return;
      }
      if (depth === 1) {
        rootClosed = true;
      } else if (name === 'base_event' && depth === 3 && base) {
        ready.push(base);
        stats.baseEvents++;
        base = null;
        event = null;
      } else if (name === 'event') {
        event = null;
      }
    });

    /** The decoder of a byte stream, chosen from its first bytes (`sniffEncoding`). */
    let decoder: TextDecoder | null = null;
    let encoding: FeedEncoding | null = null;
    /** Bytes received before the decoder could be chosen. */
    let pending: Buffer | null = null;
    const decode = (bytes: Uint8Array | undefined): string => {
      try {
        return decoder ? decoder.decode(bytes, { stream: bytes !== undefined }) : '';
      } catch {
        return fail(
          'encoding',
          bytes === undefined
            ? `the feed ends in the middle of a ${encoding} character`
            : `the feed is not valid ${encoding} (near byte ${stats.bytes})`,
        );
      }
    };
    /** Decodes `chunk`, or keeps it until the first bytes tell the encoding. */
    const decodeBytes = (chunk: Uint8Array, final: boolean): string => {
      if (decoder) return decode(chunk);
      const bytes: Buffer = pending ? Buffer.concat([pending, chunk]) : Buffer.from(chunk);
      const chosen = sniffEncoding(bytes, final);
      if (chosen === null) {
        pending = bytes;
        return '';
      }
      pending = null;
      encoding = chosen;
      decoder = new TextDecoder(chosen, { fatal: true });
      return decode(bytes);
    };

    let encodingChecked = false;
    /** The declaration read from the decoded text: supported, and agreeing with the bytes. */
    const checkEncoding = () => {
      encodingChecked = true;
      const declared = DECLARED_ENCODING.exec(head)?.[2];
      if (declared === undefined) return;
      const family = encodingFamily(declared);
      if (family === null) throw unsupported(declared);
      const read = encoding === 'UTF-16LE' || encoding === 'UTF-16BE' ? 'UTF-16' : encoding;
      if (read !== null && read !== family) {
        fail(
          'encoding',
          `the feed declares encoding ${JSON.stringify(declared)} but its first bytes (byte order mark or "<?") say ${encoding}`,
        );
      }
    };

    const feed = (text: string) => {
      if (head.length < 200) head += text.slice(0, 200 - head.length);
      if (!encodingChecked && (head.length >= 200 || head.includes('?>'))) checkEncoding();
      for (let i = 0; i < text.length; i += SLICE) {
        try {
          parser.write(text.length <= SLICE ? text : text.slice(i, i + SLICE));
        } catch (err) {
          throw translate(err);
        }
        if (parser.position - mark > limits.maxTokenLength) {
          fail(
            'limit',
            `a single token (start tag, text, comment...) runs past ${limits.maxTokenLength} characters at ${where()}`,
          );
        }
      }
    };

    for await (const chunk of source) {
      let text: string;
      if (typeof chunk === 'string') {
        stats.bytes += Buffer.byteLength(chunk);
        text = chunk;
      } else {
        stats.bytes += chunk.byteLength;
        text = decodeBytes(chunk, false);
      }
      if (text.length > 0) feed(text);
      while (ready.length > 0) yield ready.shift() as ParsedBaseEvent;
    }
    // Bytes still waiting for the encoding to be known (a very short body): decide now.
    const rest = (pending ? decodeBytes(new Uint8Array(0), true) : '') + decode(undefined);
    if (rest.length > 0) feed(rest);
    if (!encodingChecked) checkEncoding();
    while (ready.length > 0) yield ready.shift() as ParsedBaseEvent;

    if (stats.bytes === 0) fail('empty', 'the body is empty (0 bytes): no feed to ingest');
    if (!rootSeen) {
      if (head.trim() === '' || /^\s*<\?xml[^>]*\?>\s*$/.test(head)) {
        fail('empty', `the body holds no XML element (${stats.bytes} bytes): no feed to ingest`);
      }
      if (looksLikeHtml(head)) {
        fail('html', `the provider sent an HTML page instead of the XML feed: ${snippet(head)}`);
      }
      fail('malformed', `the body is not an XML document; it starts with ${snippet(head)}`);
    }
    if (!rootClosed) {
      fail(
        'truncated',
        `the feed ends before </eventList> (truncated after ${stats.bytes} bytes, inside <${stack.join('><')}> at ${where()}; ${stats.baseEvents} complete base events were read)`,
      );
    }
    try {
      parser.close();
    } catch (err) {
      throw translate(err);
    }
  }
}
