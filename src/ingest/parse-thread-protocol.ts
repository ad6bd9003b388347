/**
 * The messages between the run's thread and its parse thread (./parse-thread.ts,
 * ./parse-thread-worker.ts; docs/adr/0016-*.md, fifth pass). Types only.
 */
import type { PackedOutcomes } from './feed-pipeline.js';
import type { FeedErrorCode } from './errors.js';
import type { ParserStats } from './formats/index.js';
import type { FeedFormatName } from './formats/names.js';
import type { WriteContext } from './operations.js';

/** What the parse thread is started with. */
export interface ParseThreadData {
  format: FeedFormatName;
  provider: string;
  context: WriteContext;
  /** Characters of outcomes gathered before a batch is handed over. */
  batchChars: number;
  /** Batches handed over and not yet taken by the run before the thread waits. */
  batchesInFlight: number;
}

/** To the parse thread. */
export type ToParseThread =
  /** The feed's next bytes (the buffer is transferred: `length` of them are the feed's). */
  | { type: 'bytes'; buffer: ArrayBuffer; length: number }
  /** The feed ended. */
  | { type: 'end' }
  /** Reading the feed failed: parse what was sent, then stop (the run reports its own error). */
  | { type: 'input_failed' }
  /** The run took one batch. */
  | { type: 'ack' };

/** An error of the parse thread, as it crosses to the run's thread. */
export interface ThreadError {
  /** A FeedError's code; absent for any other error. */
  code?: FeedErrorCode;
  message: string;
  retryable?: boolean;
  name: string;
  stack?: string;
  /** The thread stopped because reading the feed failed (`input_failed`). */
  input?: boolean;
}

/** From the parse thread. */
export type FromParseThread =
  /** One block of bytes was handed to the reader: the run may send another. */
  | { type: 'taken' }
  | { type: 'outcomes'; outcomes: PackedOutcomes; stats: ParserStats }
  /** What the reader counted so far (it waits for bytes, with no outcomes to hand over). */
  | { type: 'stats'; stats: ParserStats }
  | { type: 'done'; stats: ParserStats }
  | { type: 'error'; error: ThreadError; stats: ParserStats };
