/**
 * Phase 1's per-event work on a worker thread (docs/adr/0016-*.md, fifth pass): the feed reader
 * (decoding, saxes, the parser's handlers), the normalisation and the write items' JSON run on a
 * second thread while the run's thread downloads and hashes the feed and keeps the bookkeeping
 * (de-duplication, rejections, the spool). The parse thread starts from ./parse-thread-entry.ts.
 *
 * - Bytes go over as the download's chunks come (at most `BLOCK` bytes each), each copied once
 *   (a chunk may be a view into a buffer the HTTP client still uses) into a buffer that is then
 *   transferred, not copied again; at most `BLOCKS_IN_FLIGHT` are sent and not yet read, so the
 *   download waits for the parse (its own backpressure) instead of piling up in the thread.
 * - Outcomes come back in batches (./feed-pipeline.ts `EventOutcomes`), at most `batchesInFlight`
 *   of them ahead of the run: memory stays bounded whatever the feed's size.
 * - A `FeedError` of the reader crosses as its code, message and retryable flag and is thrown
 *   again here, the same error; any other error of the thread, its running out of memory or its
 *   exit before the end of the feed rejects with an error that says so. The run's signal
 *   terminates the thread (the same `aborted` error as the in-thread path).
 */
import { Worker } from 'node:worker_threads';
import { cancelledError, FeedError } from './errors.js';
import { unpackOutcomes, type EventOutcomes, type FeedPipeline } from './feed-pipeline.js';
import type { ParserStats } from './formats/index.js';
import { emptyParserStats } from './parser.js';
import type { FeedFormatName } from './formats/names.js';
import type { WriteContext } from './operations.js';
import type {
  FromParseThread,
  ParseThreadData,
  ThreadError,
  ToParseThread,
} from './parse-thread-protocol.js';

/** Most bytes sent to the parse thread at once (the reader's own slice of text). */
const BLOCK = 64 * 1024;
/** Blocks sent and not yet handed to the reader (at most 1 MB). */
const BLOCKS_IN_FLIGHT = 16;

export interface ParseThreadOptions {
  format: FeedFormatName;
  provider: string;
  context: WriteContext;
  signal?: AbortSignal;
  /** Characters of outcomes per batch (default 256 K). */
  batchChars?: number;
  /** Batches the thread may hand over before the run took them (default 4). */
  batchesInFlight?: number;
  /**
   * The thread's heap bounds (MB). A process started with `--max-old-space-size` /
   * `--max-semi-space-size` (the chart's `ingester.heap`) gives its threads the same bounds,
   * whatever is set here; without them these apply (default: old 128, young 12, as the chart).
   */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number };
  /** Sees the thread once it is started (a test waits for its `exit`). */
  onThread?: (thread: Worker) => void;
}

const ENTRY = new URL(
  import.meta.url.endsWith('.ts') ? './parse-thread-entry.ts' : './parse-thread-entry.js',
  import.meta.url,
);

/** The thread's Node options: none of the process's (`--import` of tracing...) but the profiler's. */
function threadExecArgv(): string[] {
  return process.execArgv.filter((arg) => arg.startsWith('--cpu-prof'));
}

/** The error of the thread, as the in-thread path would have thrown it. */
function errorOf(error: ThreadError): Error {
  if (error.code !== undefined) return new FeedError(error.code, error.message, error.retryable);
  const err = new Error(`the parse thread failed: ${error.name}: ${error.message}`);
  if (error.stack) err.stack = `${err.message}\n(in the parse thread) ${error.stack}`;
  return err;
}

/** A worker `error` event (an uncaught error, its heap exhausted) as the run's error. */
function crashOf(thrown: unknown, limits: Worker['resourceLimits']): Error {
  // Not `instanceof Error`: the error may come from another realm (a test's VM context).
  const err = (
    typeof thrown === 'object' && thrown !== null && 'message' in thrown
      ? thrown
      : new Error(String(thrown))
  ) as Error & { code?: string };
  if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') {
    const old = limits?.maxOldGenerationSizeMb;
    return new Error(
      `the parse thread ran out of memory${old !== undefined && old > 0 ? ` (its old generation is bounded to ${old} MB)` : ''}: ${err.message}`,
      { cause: err },
    );
  }
  return new Error(`the parse thread failed: ${err.message}`, { cause: err });
}

export function threadPipeline(options: ParseThreadOptions): FeedPipeline {
  const stats = emptyParserStats();
  return {
    stats,
    outcomes: (source) => outcomes(options, stats, source),
  };
}

async function* outcomes(
  options: ParseThreadOptions,
  stats: ParserStats,
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<EventOutcomes> {
  const data: ParseThreadData = {
    format: options.format,
    provider: options.provider,
    context: options.context,
    batchChars: options.batchChars ?? 64 * 1024,
    batchesInFlight: options.batchesInFlight ?? 4,
  };
  const { signal } = options;
  if (signal?.aborted) throw cancelledError(signal);
  const worker = new Worker(ENTRY, {
    workerData: data,
    execArgv: threadExecArgv(),
    resourceLimits: {
      maxOldGenerationSizeMb: options.resourceLimits?.maxOldGenerationSizeMb ?? 128,
      maxYoungGenerationSizeMb: options.resourceLimits?.maxYoungGenerationSizeMb ?? 12,
    },
    name: 'parse',
  });
  options.onThread?.(worker);
  const send = (message: ToParseThread, transfer?: ArrayBuffer[]) =>
    worker.postMessage(message, transfer);

  const batches: EventOutcomes[] = [];
  let done = false;
  let failure: Error | null = null;
  /** Reading the feed failed: its error, the run's once the thread has read what came before. */
  let inputError: unknown = null;
  let closed = false;
  let blocksInFlight = 0;
  // One waiter each: the consumer (batches, the end, a failure) and the pump (credits for bytes).
  let wakeConsumer: (() => void) | null = null;
  let wakePump: (() => void) | null = null;
  const wake = () => {
    const c = wakeConsumer;
    const p = wakePump;
    wakeConsumer = wakePump = null;
    c?.();
    p?.();
  };
  const fail = (err: Error) => {
    failure ??= err;
    wake();
  };

  worker.on('message', (message: FromParseThread) => {
    if (message.type === 'taken') {
      blocksInFlight--;
    } else {
      Object.assign(stats, message.stats);
      if (message.type === 'outcomes') batches.push(unpackOutcomes(message.outcomes));
      else if (message.type === 'done') done = true;
      else if (message.type === 'error') {
        fail(message.error.input === true ? inputFailure(inputError) : errorOf(message.error));
      }
    }
    wake();
  });
  // Its limits as V8 applied them (the process's flags win over those asked for); read while it runs.
  let limits: Worker['resourceLimits'] = {};
  worker.once('online', () => (limits = worker.resourceLimits));
  worker.on('error', (err) => fail(crashOf(err, limits)));
  worker.on('exit', (code) => {
    if (!done)
      fail(new Error(`the parse thread stopped (exit code ${code}) before the feed's end`));
  });
  const onAbort = () => {
    if (signal) fail(cancelledError(signal));
    void worker.terminate();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const pumping = pump();
  try {
    for (;;) {
      const batch = batches.shift();
      if (batch !== undefined) {
        yield batch;
        send({ type: 'ack' });
      } else if (failure !== null) {
        throw failure;
      } else if (done) {
        return;
      } else {
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
      }
    }
  } finally {
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    wake();
    await worker.terminate();
    // The pump stops at its next chunk; a body that sends nothing more is the run's to abort (the
    // run aborts the feed's request as it ends), so it is not waited for here.
    pumping.catch(() => undefined);
  }

  /** Sends the feed's bytes to the thread as they come, as the thread reads them. */
  async function pump(): Promise<void> {
    try {
      for await (const chunk of source) {
        // A copy the thread owns (the chunk may be a view into a buffer the HTTP client reuses),
        // transferred; at most BLOCK bytes each (longer text would be sliced by the reader).
        for (let at = 0; at < chunk.byteLength; at += BLOCK) {
          while (blocksInFlight >= BLOCKS_IN_FLIGHT && !closed) {
            await new Promise<void>((resolve) => (wakePump = resolve));
          }
          if (closed) return;
          const block = new Uint8Array(Math.min(BLOCK, chunk.byteLength - at));
          block.set(chunk.subarray(at, at + block.byteLength));
          blocksInFlight++;
          send({ type: 'bytes', buffer: block.buffer, length: block.byteLength }, [block.buffer]);
        }
      }
      if (!closed) send({ type: 'end' });
    } catch (err) {
      inputError = err;
      // The bytes sent before the failure are parsed first: an error they hold is the run's, as
      // when the parse pulls the bytes itself.
      if (!closed) send({ type: 'input_failed' });
    }
  }
}

function inputFailure(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
