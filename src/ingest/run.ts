/**
 * One ingest run: fetch the feed, read it to its end, write every event, record the run.
 *
 * The run is built from ports so tests can drive it with fixtures and a real Elasticsearch:
 * a feed source (a byte stream), the streaming parser, an event sink (the bulk writer) and a run
 * store.
 *
 * One parse, two phases (docs/adr/0005-streaming-xml-parser.md): the body is streamed through the
 * parser, each event normalised and de-duplicated, and the resulting write operations appended to
 * a temporary spool file as NDJSON (`spool.ts`); only when the whole feed has arrived and parsed
 * cleanly are those operations read back and written. A truncated, malformed or interrupted feed
 * therefore changes nothing in the store. Memory stays flat in both phases (one base event, one
 * spool chunk at a time) apart from the set of ids seen in phase 1; the disk holds the operations
 * (not the XML) for the length of the run.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSpan } from '../observability/spans.js';
import { normaliseEvent, type RejectionReason } from '../domain/event.js';
import type { Logger } from '../observability/logger.js';
import type { RunDocument } from '../store/indices.js';
import { emptyRunCounts, type RunStore } from './run-store.js';
import { writeOpOf, type WriteContext, type WriteOp } from './operations.js';
import type { WriteStats } from './writer.js';
import { FeedError } from './errors.js';
import { feedFormat, type FeedReader, type ParsedBaseEvent } from './formats/index.js';
import { readSpool, writeSpool } from './spool.js';

/** Where the bytes of the feed come from (the provider over HTTP, a fixture, a generator). */
export interface FeedSource {
  open(signal?: AbortSignal): Promise<FeedBody>;
}

export interface FeedBody {
  body: AsyncIterable<Uint8Array>;
  status?: number;
  contentType?: string | null;
  attempts?: number;
}

export type { FeedReader } from './formats/index.js';

/** Writes the items it pulls from `ops`; reports failures in its result, does not throw for them. */
export type EventSink = (ops: AsyncIterable<WriteOp>, context: WriteContext) => Promise<WriteStats>;

export interface RunDeps {
  /** Provider name: part of every event's identity. */
  provider: string;
  /** The feed's URL as it may be shown (no credentials), for the run record. */
  providerUrl: string;
  source: FeedSource;
  sink: EventSink;
  runs: RunStore;
  logger: Logger;
  /** The feed format's reader (src/ingest/formats; default: the XML one). */
  parser?: () => FeedReader;
  /** Directory for the spool file of write operations (default: the OS temp directory). */
  spoolDir?: string;
  signal?: AbortSignal;
  now?: () => Date;
  runId?: string;
  /** Rejected (and duplicate) events logged one by one before the rest are only counted (default 20). */
  maxLoggedRejections?: number;
}

export interface RunResult {
  /** The run as recorded (or as it would have been, if recording the end failed). */
  run: RunDocument;
  ok: boolean;
  error: Error | null;
  /** Events that appeared more than once in the feed (the first occurrence was used). */
  duplicates: number;
  unknownElements: Record<string, number>;
  bytes: number;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    throw new FeedError('aborted', `the run was cancelled: ${reason}`);
  }
}

/**
 * Phase 1's bookkeeping: turns each parsed base event into write operations, dropping duplicates
 * (the first occurrence is used) and counting and logging rejections (the first few one by one).
 */
class FeedSifter {
  private readonly seen = new Set<string>();
  private logged = 0;
  duplicates = 0;
  rejected = 0;
  readonly rejectedByReason: Partial<Record<RejectionReason, number>> = {};

  constructor(
    private readonly provider: string,
    private readonly log: Logger,
    private readonly maxLogged: number,
  ) {}

  /** The write operations of one base event (its duplicates and unidentifiable events dropped). */
  operationsOf(base: ParsedBaseEvent): WriteOp[] {
    const ops: WriteOp[] = [];
    for (const raw of base.events) {
      const result = normaliseEvent(this.provider, raw);
      const id = result.ok ? result.event.id : (result.identity?.id ?? null);
      if (id !== null) {
        if (this.seen.has(id)) {
          this.noteDuplicate(id, raw.base_event_id);
          continue;
        }
        this.seen.add(id);
      }
      if (!result.ok) this.noteRejection(result.reason, result.detail, id);
      const op = writeOpOf(raw, result);
      if (op) ops.push(op);
    }
    return ops;
  }

  /** The ids seen are only needed while the feed is read. */
  forgetIds(): void {
    this.seen.clear();
  }

  private noteDuplicate(id: string, baseEventId: string | undefined): void {
    this.duplicates++;
    if (this.duplicates <= this.maxLogged) {
      this.log.warn(
        { phase: 'event_duplicate', event: id, base_event_id: baseEventId },
        'event appears more than once in the feed; the first occurrence was used',
      );
    }
  }

  private noteRejection(reason: RejectionReason, detail: string, id: string | null): void {
    this.rejected++;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
    if (this.logged < this.maxLogged) {
      this.log.warn({ phase: 'event_rejected', reason, detail, event: id }, 'event rejected');
    } else if (this.logged === this.maxLogged) {
      this.log.warn(
        { phase: 'event_rejected', limit: this.maxLogged },
        'more events rejected; only counted from here on (see the run summary)',
      );
    }
    this.logged++;
  }
}

/** What phase 1 learnt of the feed (kept even when reading it failed). */
interface FeedProgress {
  unknownElements: Record<string, number>;
  bytes: number;
}

/**
 * Phase 1: fetch, parse, normalise and de-duplicate; the write operations go to the spool file
 * (NDJSON). Nothing is written to Elasticsearch yet.
 */
async function spoolFeed(
  deps: RunDeps,
  file: string,
  sifter: FeedSifter,
  counts: RunDocument['counts'],
  progress: FeedProgress,
  log: Logger,
): Promise<void> {
  await withSpan('ingest.read_feed', { 'event_search.provider': deps.provider }, async (span) => {
    const feed = await deps.source.open(deps.signal);
    log.info(
      {
        phase: 'feed_fetched',
        status: feed.status,
        content_type: feed.contentType,
        attempts: feed.attempts,
      },
      'feed response received',
    );
    const reader = (deps.parser ?? feedFormat('xml').reader)();
    const signal = deps.signal;
    async function* batches(): AsyncGenerator<WriteOp[]> {
      for await (const base of reader.parse(feed.body)) {
        checkAborted(signal);
        yield sifter.operationsOf(base);
      }
    }
    try {
      await writeSpool(file, batches());
    } finally {
      counts.base_events_read = reader.stats.baseEvents;
      counts.events_read = reader.stats.events;
      progress.unknownElements = reader.stats.unknownElements;
      progress.bytes = reader.stats.bytes;
    }
    log.info(
      {
        phase: 'feed_read',
        bytes: progress.bytes,
        base_events: reader.stats.baseEvents,
        events: reader.stats.events,
        zones: reader.stats.zones,
        unknown_elements: progress.unknownElements,
      },
      'feed read to its end and well-formed',
    );
    span.setAttributes({
      'event_search.feed.bytes': progress.bytes,
      'event_search.feed.base_events': reader.stats.baseEvents,
      'event_search.feed.events': reader.stats.events,
    });
  });
}

/** Phase 2: replays the spooled operations into the writer. */
async function writeSpooled(
  deps: RunDeps,
  file: string,
  context: WriteContext,
): Promise<WriteStats> {
  const signal = deps.signal;
  async function* operations(): AsyncGenerator<WriteOp> {
    for await (const op of readSpool(file)) {
      checkAborted(signal);
      yield op;
    }
  }
  return withSpan('ingest.write', { 'event_search.run_id': context.runId }, async (span) => {
    const stats = await deps.sink(operations(), context);
    span.setAttributes({
      'event_search.events_upserted': stats.eventsWritten,
      'event_search.bulk_failures': stats.failures,
    });
    return stats;
  });
}

/** Why the writing failed, or null when every item was applied. */
function writeError(written: WriteStats): Error | null {
  if (written.error) {
    return new Error(
      `writing to Elasticsearch failed after ${written.items - written.failures} of ${written.items} items: ${written.error.message}`,
      { cause: written.error },
    );
  }
  if (written.failures > 0) {
    const first = written.sampleFailures[0];
    const detail = first
      ? ` (first: event ${first.id ?? '?'}: ${first.status} ${first.type ?? ''} ${first.reason ?? ''})`
      : '';
    return new Error(
      `Elasticsearch refused ${written.failures} of ${written.items} items${detail.replace(/\s+\)/, ')')}`,
    );
  }
  return null;
}

/**
 * Records the end of the run (its outcome and error). Returns the run's error, which includes a
 * failure to record it.
 */
async function recordEnd(
  deps: RunDeps,
  run: RunDocument,
  started: Date,
  finished: Date,
  error: Error | null,
  log: Logger,
): Promise<Error | null> {
  run.finished_at = finished.toISOString();
  run.duration_ms = finished.getTime() - started.getTime();
  run.outcome = error ? 'failed' : 'succeeded';
  run.error = error ? error.message : null;
  try {
    await deps.runs.save(run);
    return error;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.error({ phase: 'run_recorded', err: message }, 'could not record the end of the run');
    const failed = new Error(
      `${error ? `${error.message}; ` : ''}the end of the run could not be recorded: ${message}`,
    );
    run.outcome = 'failed';
    run.error = failed.message;
    return failed;
  }
}

/**
 * Runs one ingest. Resolves with the recorded run whatever the outcome; rejects only when the run
 * could not even be recorded as started (Elasticsearch unreachable).
 */
export async function runIngest(deps: RunDeps): Promise<RunResult> {
  const now = deps.now ?? (() => new Date());
  const started = now();
  const runId = deps.runId ?? randomUUID();
  const log = deps.logger.child({ run_id: runId, provider: deps.provider });
  const counts = emptyRunCounts();
  const run: RunDocument = {
    run_id: runId,
    provider: deps.provider,
    provider_url: deps.providerUrl,
    started_at: started.toISOString(),
    finished_at: null,
    duration_ms: null,
    outcome: 'running',
    error: null,
    counts,
  };
  await deps.runs.save({ ...run, counts: { ...counts } });
  log.info({ phase: 'run_started', provider_url: deps.providerUrl }, 'ingest run started');

  let error: Error | null = null;
  const sifter = new FeedSifter(deps.provider, log, deps.maxLoggedRejections ?? 20);
  const progress: FeedProgress = { unknownElements: {}, bytes: 0 };
  const dir = await mkdtemp(join(deps.spoolDir ?? tmpdir(), 'event-search-feed-'));
  try {
    const file = join(dir, 'ops.ndjson');
    await spoolFeed(deps, file, sifter, counts, progress, log);
    // The feed was complete: its rejections count (a failed read records none, as nothing of it
    // is applied).
    sifter.forgetIds();
    counts.events_rejected = sifter.rejected;
    counts.rejected_by_reason = sifter.rejectedByReason;

    const written = await writeSpooled(deps, file, { runId, seenAt: started.toISOString() });
    counts.events_upserted = written.eventsWritten;
    counts.bulk_failures = written.failures;
    log.info(
      {
        phase: 'events_written',
        items: written.items,
        events_upserted: written.eventsWritten,
        rejected_recorded: written.rejectedWritten,
        events_rejected: counts.events_rejected,
        rejected_by_reason: counts.rejected_by_reason,
        duplicates: sifter.duplicates,
        bulk_failures: written.failures,
        sample_failures: written.sampleFailures,
        bulk_bytes: written.bytes,
        took_ms: written.timeMs,
      },
      'events written to Elasticsearch',
    );
    error = writeError(written);
  } catch (err) {
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  error = await recordEnd(deps, run, started, now(), error, log);
  return {
    run,
    ok: error === null,
    error,
    duplicates: sifter.duplicates,
    unknownElements: progress.unknownElements,
    bytes: progress.bytes,
  };
}
