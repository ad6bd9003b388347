/**
 * The per-event work of phase 1 behind one port (docs/adr/0016-*.md, fifth pass): a feed's bytes
 * in, each event's outcome out (normalised or rejected, its identity, its write item as JSON), in
 * batches. The run's bookkeeping (the sifter in run.ts: de-duplication, rejection logs and counts,
 * the spool) reads only these outcomes, so it is the same whichever implementation did the work:
 *
 * - `inThreadPipeline`: the feed reader and the normalisation on the run's own thread;
 * - `threadPipeline` (./parse-thread.ts): the same work on a worker thread, which hands the
 *   outcomes over as these batches (strings and numbers, cheap to copy between threads).
 *
 * A batch is a set of columns rather than an object per event: the copy between threads then
 * clones a few arrays of strings instead of thousands of small objects.
 */
import { normaliseEvent, REJECTION_REASONS } from '../domain/event.js';
import { writeItemOf, writeOpOf, type WriteContext } from './operations.js';
import type { FeedReader, ParsedBaseEvent, ParserStats } from './formats/index.js';

/** The event is valid (normalised). */
export const OUTCOME_VALID = 1;
/** The event's raw `sell_mode` says online (valid or not: docs/adr/0002-*.md). */
export const OUTCOME_ONLINE = 2;
/** The event has an identity, and so a write item (`ids`, `docs`, `upserts` are set). */
export const OUTCOME_ITEM = 4;
/** Its write item is an event's (else a rejected event's). */
export const OUTCOME_ITEM_EVENT = 8;
/** Its write item already sets `ever_online`. */
export const OUTCOME_ITEM_ONLINE = 16;

/** The outcomes of a run of consecutive events of the feed, one entry per event in each column. */
export interface EventOutcomes {
  /** OUTCOME_* bits. */
  flags: number[];
  /** The event's identity ('' when it has none: it is only counted). */
  ids: string[];
  /** Its write item's update JSON ('' without an identity). */
  docs: string[];
  upserts: string[];
  /** 1 + the index of its rejection reason in REJECTION_REASONS; 0 when it is valid. */
  reasons: number[];
  /** The rejection's detail ('' when valid). */
  details: string[];
  /** The `base_event_id` it came with (for the duplicate's log line). */
  baseEventIds: (string | undefined)[];
  /** Characters of the strings above (how a batch is sized). */
  chars: number;
}

export function emptyOutcomes(): EventOutcomes {
  return {
    flags: [],
    ids: [],
    docs: [],
    upserts: [],
    reasons: [],
    details: [],
    baseEventIds: [],
    chars: 0,
  };
}

/**
 * Normalises every event of `base` (in `provider`'s identity space) and appends its outcome, with
 * its write item built for `context`, to `out`.
 */
export function addOutcomes(
  out: EventOutcomes,
  provider: string,
  base: ParsedBaseEvent,
  context: WriteContext,
): void {
  for (const raw of base.events) {
    const result = normaliseEvent(provider, raw);
    const op = writeOpOf(raw, result);
    const item = op === null ? null : writeItemOf(op, context);
    let flags = raw.sell_mode?.trim() === 'online' ? OUTCOME_ONLINE : 0;
    if (result.ok) flags |= OUTCOME_VALID;
    if (item !== null) {
      flags |= OUTCOME_ITEM;
      if (item.kind === 'event') flags |= OUTCOME_ITEM_EVENT;
      if (item.online) flags |= OUTCOME_ITEM_ONLINE;
    }
    const id = item?.id ?? '';
    const doc = item?.json.doc ?? '';
    const upsert = item?.json.upsert ?? '';
    const detail = result.ok ? '' : result.detail;
    out.flags.push(flags);
    out.ids.push(id);
    out.docs.push(doc);
    out.upserts.push(upsert);
    out.reasons.push(result.ok ? 0 : 1 + REJECTION_REASONS.indexOf(result.reason));
    out.details.push(detail);
    out.baseEventIds.push(raw.base_event_id);
    out.chars += id.length + doc.length + upsert.length + detail.length;
  }
}

/**
 * A batch as it crosses between threads: the numbers as they are, the strings joined into one
 * (`text`, with each one's length in `lengths`, -1 for an absent base event id: five per event,
 * in the order id, doc, upsert, detail, base event id). Copying one long flat string between
 * threads is one copy; copying thousands of strings built by concatenation first flattens each.
 */
export interface PackedOutcomes {
  flags: number[];
  reasons: number[];
  lengths: number[];
  text: string;
  chars: number;
}

export function packOutcomes(o: EventOutcomes): PackedOutcomes {
  const parts: string[] = [];
  const lengths: number[] = [];
  for (let i = 0; i < o.flags.length; i++) {
    const base = o.baseEventIds[i];
    for (const part of [o.ids[i], o.docs[i], o.upserts[i], o.details[i], base] as const) {
      lengths.push(part === undefined ? -1 : part.length);
      if (part !== undefined) parts.push(part);
    }
  }
  return { flags: o.flags, reasons: o.reasons, lengths, text: parts.join(''), chars: o.chars };
}

export function unpackOutcomes(p: PackedOutcomes): EventOutcomes {
  const out: EventOutcomes = { ...emptyOutcomes(), flags: p.flags, reasons: p.reasons };
  const { text, lengths } = p;
  let at = 0;
  let l = 0;
  const next = (): string | undefined => {
    const length = lengths[l++] as number;
    if (length < 0) return undefined;
    at += length;
    return text.slice(at - length, at);
  };
  for (let i = 0; i < p.flags.length; i++) {
    out.ids.push(next() as string);
    out.docs.push(next() as string);
    out.upserts.push(next() as string);
    out.details.push(next() as string);
    out.baseEventIds.push(next());
  }
  out.chars = p.chars;
  return out;
}

/** Phase 1's per-event work over one feed. */
export interface FeedPipeline {
  /** What the reader counted so far (meaningful after a failure too: how far it got). */
  readonly stats: ParserStats;
  /**
   * The outcomes of every event of the feed `source`, in document order; rejects with the
   * reader's `FeedError` for a feed it refuses, after the outcomes of the events before it.
   */
  outcomes(source: AsyncIterable<Uint8Array>): AsyncIterable<EventOutcomes>;
}

/** The pipeline on the caller's thread: one batch per base event, as the reader hands them out. */
export function inThreadPipeline(
  reader: FeedReader,
  provider: string,
  context: WriteContext,
): FeedPipeline {
  return {
    stats: reader.stats,
    async *outcomes(source) {
      for await (const base of reader.parse(source)) {
        const out = emptyOutcomes();
        addOutcomes(out, provider, base, context);
        yield out;
      }
    },
  };
}
