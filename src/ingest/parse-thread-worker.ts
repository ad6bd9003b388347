/**
 * The parse thread's work (started by ./parse-thread.ts through ./parse-thread-entry.ts;
 * docs/adr/0016-*.md, fifth pass): reads the feed's bytes as the run sends them, parses them with
 * the format's reader, normalises each event and builds its write item, and hands the outcomes
 * back in batches, never more than `batchesInFlight` ahead of the run.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { addOutcomes, emptyOutcomes, packOutcomes } from './feed-pipeline.js';
import { FeedError } from './errors.js';
import { feedFormat } from './formats/index.js';
import type {
  FromParseThread,
  ParseThreadData,
  ThreadError,
  ToParseThread,
} from './parse-thread-protocol.js';

/** Thrown into the reader when the run could not read the feed (its error is the run's own). */
class InputFailed extends Error {}

const port = parentPort;
if (port === null) throw new Error('parse-thread-worker.ts runs on a worker thread');
const data = workerData as ParseThreadData;
const reader = feedFormat(data.format).reader();

const blocks: Uint8Array[] = [];
let ended = false;
let inputFailed = false;
let credits = data.batchesInFlight;
let wake: (() => void) | null = null;

port.on('message', (message: ToParseThread) => {
  if (message.type === 'bytes') blocks.push(new Uint8Array(message.buffer, 0, message.length));
  else if (message.type === 'end') ended = true;
  else if (message.type === 'input_failed') inputFailed = true;
  else credits++;
  const w = wake;
  wake = null;
  w?.();
});

const post = (message: FromParseThread) => port.postMessage(message);
/** The next message from the run (the only thing this thread ever waits for). */
const nextMessage = () => new Promise<void>((resolve) => (wake = resolve));

/** The outcomes read and not yet handed over. */
let pending = emptyOutcomes();

async function* bytes(): AsyncGenerator<Uint8Array> {
  for (;;) {
    const block = blocks.shift();
    if (block !== undefined) {
      post({ type: 'taken' });
      yield block;
    } else if (inputFailed) {
      throw new InputFailed();
    } else if (ended) {
      return;
    } else {
      // Everything sent so far is read: what it held goes over before the thread waits, so the
      // run's progress follows a feed that arrives slowly.
      await handPending();
      if (blocks.length === 0 && !ended && !inputFailed) await nextMessage();
    }
  }
}

/** Hands the outcomes read so far to the run (or, when there are none, the counts). */
async function handPending(): Promise<void> {
  if (pending.flags.length === 0) {
    post({ type: 'stats', stats: reader.stats });
    return;
  }
  const outcomes = pending;
  pending = emptyOutcomes();
  while (credits <= 0) await nextMessage();
  credits--;
  post({ type: 'outcomes', outcomes: packOutcomes(outcomes), stats: reader.stats });
}

function describe(err: unknown): ThreadError {
  if (err instanceof InputFailed) return { name: 'InputFailed', message: '', input: true };
  if (err instanceof FeedError) {
    return { code: err.code, message: err.message, retryable: err.retryable, name: err.name };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { message: e.message, name: e.name, stack: e.stack };
}

try {
  for await (const base of reader.parse(bytes())) {
    addOutcomes(pending, data.provider, base, data.context);
    if (pending.chars >= data.batchChars) await handPending();
  }
  if (pending.flags.length > 0) await handPending();
  post({ type: 'done', stats: reader.stats });
} catch (err) {
  post({ type: 'error', error: describe(err), stats: reader.stats });
}
