/**
 * Feed formats behind one port (docs/adding-a-provider.md): an adapter turns a provider's bytes
 * into base events of raw events (`ParsedBaseEvent`), which the domain then normalises. The run,
 * the spool, the writer and the guards see only this port; `PROVIDER_FORMAT` picks the adapter.
 *
 * An adapter must stream (memory bounded by one base event, whatever the size of the feed), count
 * what it read in `stats`, and refuse a truncated, malformed or hostile feed with a `FeedError`
 * before the end of its iteration, so that nothing of such a feed is written.
 */
import type { ParsedBaseEvent, ParserStats } from '../parser.js';
import { xmlFormat } from './xml.js';
import { ndjsonFormat } from './ndjson.js';
import type { FeedFormatName } from './names.js';

export type { ParsedBaseEvent, ParserStats };

/** One run's reader of a feed: a fresh one per run. */
export interface FeedReader {
  readonly stats: ParserStats;
  parse(source: AsyncIterable<Uint8Array | string>): AsyncIterable<ParsedBaseEvent>;
}

export interface FeedFormat {
  /** The value of PROVIDER_FORMAT. */
  readonly name: string;
  /** A fresh reader for one run. */
  reader(): FeedReader;
}

export { FEED_FORMATS, type FeedFormatName } from './names.js';

const ADAPTERS: Record<FeedFormatName, FeedFormat> = { xml: xmlFormat, ndjson: ndjsonFormat };

/** The adapter of `name` (validated by the configuration). */
export function feedFormat(name: FeedFormatName): FeedFormat {
  return ADAPTERS[name];
}
