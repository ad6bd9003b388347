/**
 * One ingest run: fetch the feed, read it to its end, write every event, record the run.
 *
 * The run is built from ports so tests can drive it with fixtures and a real Elasticsearch:
 * a feed source (a byte stream), the streaming parser, an event sink (the bulk writer) and a run
 * store.
 *
 * The body is first received into the run's temporary directory and hashed (src/ingest/feed-file.ts):
 * bytes equal to those of the previous run, which succeeded the same UTC day, are neither parsed
 * nor written (docs/adr/0016-unchanged-feed-and-ingest-cost.md).
 *
 * One parse, two phases (docs/adr/0005-streaming-xml-parser.md): the feed is streamed through the
 * parser, each event normalised, and the resulting write operations spooled (`spool.ts`: held in
 * memory up to a bound, beyond it appended to a temporary spool file as NDJSON); only when the
 * whole feed has arrived and parsed cleanly, and passed the format guard, are those operations
 * read back and written (of the copies of one identity, only the last valid one). A truncated,
 * malformed or interrupted feed therefore changes nothing in the store. Memory stays bounded in
 * both phases (one base event and at most the spool's bound, or one spool chunk at a time) apart
 * from the map of ids to their chosen copy, held until the last write; the disk holds the
 * operations (not the XML) of a feed too large for the bound for the length of the run.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withSpan } from '../observability/spans.js';
import { normaliseEvent, REJECTION_REASONS, type RejectionReason } from '../domain/event.js';
import type { Logger } from '../observability/logger.js';
import { everOnlineJson, seenDayOf } from '../store/event-document.js';
import type { FeedRecord, RunDocument } from '../store/indices.js';
import { emptyRunCounts, type RunStore } from './run-store.js';
import {
  writeItemOf,
  writeOpOf,
  type WriteContext,
  type WriteItem,
  type WriteOp,
} from './operations.js';
import type { WriteStats } from './writer.js';
import { FeedError } from './errors.js';
import { feedFormat, type FeedReader, type ParsedBaseEvent } from './formats/index.js';
import { reportProgress } from './progress.js';
import { readSpooled, spool, type Spooled } from './spool.js';
import { hashedBody, receiveFeed, type ReceivedFeed } from './feed-file.js';
import { documentCodeFingerprint } from './document-code.js';

/** Where the bytes of the feed come from (the provider over HTTP, a fixture, a generator). */
export interface FeedSource {
  /**
   * `held`: the validators of the copy the store already holds, when it may be trusted
   * (docs/adr/0016-*.md); a source that can ask the provider conditionally answers `notModified`.
   */
  open(signal?: AbortSignal, held?: FeedValidators): Promise<FeedBody>;
}

export interface FeedValidators {
  etag?: string | null;
  lastModified?: string | null;
}

export interface FeedBody extends FeedValidators {
  body: AsyncIterable<Uint8Array>;
  status?: number;
  contentType?: string | null;
  attempts?: number;
  /** The provider said the copy held is current (HTTP 304): there is no body. */
  notModified?: boolean;
}

export type { FeedReader } from './formats/index.js';

/**
 * Writes the items it pulls from `ops` (the run hands it `WriteItem`s; a `WriteOp` is built with
 * `context`); reports failures in its result, does not throw for them.
 */
export type EventSink = (
  ops: AsyncIterable<WriteItem | WriteOp>,
  context: WriteContext,
) => Promise<WriteStats>;

export interface RunDeps {
  /** Provider name: part of every event's identity. */
  provider: string;
  /** IANA zone of the provider's wall-clock times: each event's instants are computed with it. */
  timeZone: string;
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
  /**
   * Characters of write operations held in memory before they spill to the spool file (default
   * `SPOOL_MEMORY_CHARS` of spool.ts; docs/adr/0016-*.md).
   */
  spoolMemoryChars?: number;
  signal?: AbortSignal;
  now?: () => Date;
  runId?: string;
  /** Rejected (and duplicate) events logged one by one before the rest are only counted (default 20). */
  maxLoggedRejections?: number;
  /**
   * The format guard: a feed whose share of rejected events is above this fails before anything
   * is written (default 0.5; 1 disables it). docs/adr/0002-*.md.
   */
  maxRejectedRatio?: number;
  /** Interval of the `progress` log lines (default 5000 ms). */
  progressMs?: number;
  /**
   * The document-building code's fingerprint recorded with the feed (default: this process's,
   * src/ingest/document-code.ts); a test stands for another release with another value.
   */
  documentCode?: string;
  /**
   * Skip the parse and the writes when the feed's bytes equal those of the previous run, which
   * succeeded the same UTC day (docs/adr/0016-*.md); needs `runs.previous`. Absent: every run
   * parses and writes its feed.
   */
  unchangedFeeds?: {
    /** Documents of this provider in the events index (the skip also needs them to be there). */
    storedDocuments(): Promise<number>;
  };
}

export interface RunResult {
  /** The run as recorded (or as it would have been, if recording the end failed). */
  run: RunDocument;
  ok: boolean;
  error: Error | null;
  /** Copies of events that appeared more than once in the feed (the last valid copy was used). */
  duplicates: number;
  unknownElements: Record<string, number>;
  bytes: number;
  /** The feed's bytes equalled the previous run's: nothing was parsed or written. */
  feedUnchanged: boolean;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    const reason = signal.reason instanceof Error ? signal.reason.message : String(signal.reason);
    throw new FeedError('aborted', `the run was cancelled: ${reason}`);
  }
}

/**
 * The copy of one identity that is written, and what all of its copies said, packed in one number
 * (a small integer for any real feed: the map of a million ids stays compact, docs/adr/0016-*.md):
 * `ordinal * 32 + reason * 4 + online * 2 + valid`, where `ordinal` is the position of the winning
 * operation in the spool, `valid` says the winner is a valid copy (then no later invalid copy can
 * replace it), `online` that some copy in this feed was sold online, valid or not
 * (docs/adr/0002-*.md), and `reason` is 1 + the index of the winner's rejection reason in
 * REJECTION_REASONS (0 when it is valid).
 */
type Winner = number;

const VALID = 1;
const ONLINE = 2;
const REASON_SHIFT = 4;
const ORDINAL_SHIFT = 32;

function winnerOf(ordinal: number, valid: boolean, online: boolean, reason?: RejectionReason) {
  const code = reason === undefined ? 0 : 1 + REJECTION_REASONS.indexOf(reason);
  return (
    ordinal * ORDINAL_SHIFT + code * REASON_SHIFT + (online ? ONLINE : 0) + (valid ? VALID : 0)
  );
}

const ordinalOf = (w: Winner) => Math.floor(w / ORDINAL_SHIFT);
const reasonOf = (w: Winner): RejectionReason | undefined =>
  REJECTION_REASONS[Math.floor((w % ORDINAL_SHIFT) / REASON_SHIFT) - 1];

/** Rejections of one reason: how many, and the first one's detail as an example. */
export interface ReasonCount {
  reason: RejectionReason;
  count: number;
  example: string;
}

/**
 * Phase 1's bookkeeping: turns each parsed base event into write operations and picks, for each
 * identity seen more than once, the copy to write: the last valid one, else the last one
 * (docs/adr/0002-*.md). Every copy is spooled; phase 2 writes only the winners (`isWinner`).
 * Rejections are logged as they are read (the first few one by one) and counted per winner.
 */
class FeedSifter {
  private readonly winners = new Map<string, Winner>();
  private ordinal = 0;
  private logged = 0;
  private unidentified = 0;
  private readonly unidentifiedByReason: Partial<Record<RejectionReason, number>> = {};
  private readonly examples: Partial<Record<RejectionReason, string>> = {};
  duplicates = 0;

  constructor(
    private readonly provider: string,
    private readonly log: Logger,
    private readonly maxLogged: number,
  ) {}

  /**
   * The write items of one base event (unidentifiable events are only counted), their updates
   * built for `context`.
   */
  operationsOf(base: ParsedBaseEvent, context: WriteContext): WriteItem[] {
    const items: WriteItem[] = [];
    for (const raw of base.events) {
      const result = normaliseEvent(this.provider, raw);
      const id = result.ok ? result.event.id : (result.identity?.id ?? null);
      if (!result.ok) this.noteRejection(result.reason, result.detail, id);
      const op = writeOpOf(raw, result);
      if (id === null || op === null) {
        if (!result.ok) {
          this.unidentified++;
          this.unidentifiedByReason[result.reason] =
            (this.unidentifiedByReason[result.reason] ?? 0) + 1;
        }
        continue;
      }
      const online = raw.sell_mode?.trim() === 'online';
      const previous = this.winners.get(id);
      if (previous !== undefined) this.noteDuplicate(id, raw.base_event_id);
      if (previous === undefined || result.ok || (previous & VALID) === 0) {
        const wasOnline = previous !== undefined && (previous & ONLINE) !== 0;
        this.winners.set(
          id,
          winnerOf(
            this.ordinal,
            result.ok,
            online || wasOnline,
            result.ok ? undefined : result.reason,
          ),
        );
      } else if (online) {
        this.winners.set(id, previous | ONLINE);
      }
      this.ordinal++;
      items.push(writeItemOf(op, context));
    }
    return items;
  }

  /**
   * The spooled item at `ordinal` as it is written when it is its identity's winner (marked online
   * when another copy was: an online sighting counts, valid or not), else null.
   */
  winning(item: WriteItem, ordinal: number): WriteItem | null {
    const winner = this.winners.get(item.id);
    if (winner === undefined || ordinalOf(winner) !== ordinal) return null;
    // Later copies of this identity are not winners either: its entry is no longer needed, and the
    // map shrinks while the operations are written (docs/adr/0016-*.md).
    this.winners.delete(item.id);
    if ((winner & ONLINE) !== 0 && !item.online) {
      return { ...item, online: true, json: everOnlineJson(item.json) };
    }
    return item;
  }

  /** Events rejected: the winners that are not valid, and the events without an identity. */
  rejections(): { total: number; byReason: Partial<Record<RejectionReason, number>> } {
    const byReason = { ...this.unidentifiedByReason };
    let total = this.unidentified;
    for (const w of this.winners.values()) {
      const reason = reasonOf(w);
      if (reason === undefined) continue;
      total++;
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    return { total, byReason };
  }

  /** Distinct identities of the feed: the event documents it maps to. */
  get identities(): number {
    return this.winners.size;
  }

  /** Events decided after de-duplication (each identity once, plus those without one). */
  get decided(): number {
    return this.winners.size + this.unidentified;
  }

  /** The most frequent rejection reasons, each with the first detail seen for it. */
  topReasons(byReason: Partial<Record<RejectionReason, number>>, n: number): ReasonCount[] {
    return (Object.entries(byReason) as [RejectionReason, number][])
      .map(([reason, count]) => ({ reason, count, example: this.examples[reason] ?? '' }))
      .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
      .slice(0, n);
  }

  /** The winners are only needed until the spooled operations have been written. */
  forgetIds(): void {
    this.winners.clear();
  }

  private noteDuplicate(id: string, baseEventId: string | undefined): void {
    this.duplicates++;
    if (this.duplicates <= this.maxLogged) {
      this.log.warn(
        { phase: 'event_duplicate', event: id, base_event_id: baseEventId },
        'event appears more than once in the feed; its last valid copy is used',
      );
    }
  }

  private noteRejection(reason: RejectionReason, detail: string, id: string | null): void {
    this.examples[reason] ??= detail;
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

/** The feed's response: its bytes received into a file, or (no file) hashed as they are parsed. */
type FetchedFeed =
  | { feed: FeedBody; received: ReceivedFeed; streamed: null }
  | { feed: FeedBody; received: null; streamed: ReturnType<typeof hashedBody> };

/**
 * Phase 0: fetch the feed into `file`, hashing its bytes (docs/adr/0016-*.md). Nothing is parsed
 * yet. `file` null (a run with no held feed to compare with: it parses whatever it fetches): the
 * bytes are not received here but hashed as phase 1 parses them.
 */
async function fetchFeed(
  deps: RunDeps,
  file: string | null,
  log: Logger,
  onBytes: (total: number) => void,
  held: FeedRecord | null,
  signal: AbortSignal,
  recorded: Promise<void>,
): Promise<FetchedFeed> {
  return withSpan('ingest.fetch_feed', { 'event_search.provider': deps.provider }, async (span) => {
    const validators = held ? { etag: held.etag, lastModified: held.last_modified } : undefined;
    const feed = await deps.source.open(signal, validators);
    // The request went out while the run's start was being recorded; its answer is told after.
    await recorded;
    log.info(
      {
        phase: 'feed_fetched',
        status: feed.status,
        content_type: feed.contentType,
        attempts: feed.attempts,
      },
      'feed response received',
    );
    if (feed.notModified && !validators) {
      throw new FeedError('malformed', 'the provider answered 304 Not Modified to a plain request');
    }
    if (file === null) return { feed, received: null, streamed: hashedBody(feed.body, onBytes) };
    const received = await receiveFeed(feed.body, file, onBytes);
    checkAborted(signal);
    span.setAttributes({ 'event_search.feed.bytes': received.bytes });
    return { feed, received, streamed: null };
  });
}

/**
 * Phase 1: parse the received feed (`feed`: its file, or its bytes as they arrive), normalise and
 * de-duplicate; the write operations go to the spool file. Nothing is written to Elasticsearch yet.
 */
async function spoolFeed(
  deps: RunDeps,
  feed: string | AsyncIterable<Uint8Array>,
  file: string,
  sifter: FeedSifter,
  counts: RunDocument['counts'],
  progress: FeedProgress,
  context: WriteContext,
  log: Logger,
  onReader: (reader: FeedReader) => void = () => undefined,
): Promise<Spooled> {
  return withSpan('ingest.read_feed', { 'event_search.provider': deps.provider }, async (span) => {
    const reader = (deps.parser ?? feedFormat('xml').reader)();
    onReader(reader);
    const signal = deps.signal;
    async function* batches(): AsyncGenerator<WriteItem[]> {
      const body =
        typeof feed === 'string' ? createReadStream(feed, { highWaterMark: 64 * 1024 }) : feed;
      for await (const base of reader.parse(body)) {
        checkAborted(signal);
        yield sifter.operationsOf(base, context);
      }
    }
    let spooled: Spooled;
    try {
      spooled = await spool(file, batches(), deps.spoolMemoryChars);
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
        // Where the write operations wait for the write phase: memory, or the spool file.
        spooled: spooled.held ? 'memory' : 'file',
      },
      'feed read to its end and well-formed',
    );
    span.setAttributes({
      'event_search.feed.bytes': progress.bytes,
      'event_search.feed.base_events': reader.stats.baseEvents,
      'event_search.feed.events': reader.stats.events,
    });
    return spooled;
  });
}

/** Phase 2: replays the spooled operations into the writer. */
async function writeSpooled(
  deps: RunDeps,
  file: string,
  spooled: Spooled,
  context: WriteContext,
  sifter: FeedSifter,
  sent: { items: number },
): Promise<WriteStats> {
  const signal = deps.signal;
  async function* operations(): AsyncGenerator<WriteItem> {
    let ordinal = 0;
    for await (const spooledItem of readSpooled(file, spooled)) {
      checkAborted(signal);
      // Only the winning copy of a duplicated identity is written.
      const item = sifter.winning(spooledItem, ordinal++);
      if (item === null) continue;
      sent.items++;
      yield item;
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
 * The format guard (docs/adr/0002-*.md): throws, before anything is written, when the share of
 * rejected events is above `maxRatio`, naming the three most frequent reasons with an example
 * each. A provider that changed its format (decimal commas, `Online`, offsets) then fails the run
 * instead of freezing the data behind a run that looks healthy.
 */
function checkRejectedShare(
  sifter: FeedSifter,
  rejections: { total: number; byReason: Partial<Record<RejectionReason, number>> },
  maxRatio: number,
  log: Logger,
): void {
  const events = sifter.decided;
  if (events === 0 || rejections.total / events <= maxRatio) return;
  const top = sifter.topReasons(rejections.byReason, 3);
  const percent = Math.round((100 * rejections.total) / events);
  const message =
    `${rejections.total} of ${events} events rejected (${percent}%), above INGEST_MAX_REJECTED_RATIO ${maxRatio}: ` +
    `nothing was written (has the feed's format changed?); top reasons: ` +
    top.map((r) => `${r.reason}: ${r.count} (e.g. ${r.example})`).join('; ');
  log.error(
    {
      phase: 'format_guard',
      events_read: events,
      events_rejected: rejections.total,
      max_rejected_ratio: maxRatio,
      top_reasons: top,
    },
    message,
  );
  throw new Error(message);
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
  // The run's start is recorded while the previous run is read and the feed requested: all of
  // it happens under the lease (no other run can come between), and the feed's answer is only
  // used once the start is recorded (docs/adr/0016-*.md, fourth pass).
  const recording = deps.runs.save({ ...run, counts: { ...counts } });
  let markRecorded: (failure?: unknown) => void = () => undefined;
  const recorded = new Promise<void>((resolve, reject) => {
    markRecorded = (failure) => (failure === undefined ? resolve() : reject(failure));
  });
  recorded.catch(() => undefined);
  // Aborted when the start cannot be recorded, and at the end of the run (a body left unread).
  const feedDone = new AbortController();
  const signal = deps.signal ? AbortSignal.any([deps.signal, feedDone.signal]) : feedDone.signal;
  const day = seenDayOf(started.toISOString());
  let receivedBytes = 0;
  const dirMade = mkdtemp(join(deps.spoolDir ?? tmpdir(), 'event-search-feed-'));
  dirMade.catch(() => undefined);
  const fetching = (async () => {
    const previous = deps.unchangedFeeds ? await previousRun(deps, runId, log) : null;
    const held = await heldFeed(deps, previous, day, log);
    // With no held feed, nothing can be skipped: the bytes are parsed as they arrive, no file.
    const feedFile = held ? join(await dirMade, 'feed') : null;
    const fetched = await fetchFeed(
      deps,
      feedFile,
      log,
      (n) => (receivedBytes = n),
      held,
      signal,
      recorded,
    );
    return { previous, held, feedFile, ...fetched };
  })();
  fetching.catch(() => undefined);
  try {
    await recording;
  } catch (err) {
    // Not even the start could be recorded: stop the request, leave nothing behind.
    feedDone.abort(err);
    markRecorded(err ?? new Error('the start of the run could not be recorded'));
    await fetching.catch(() => undefined);
    await dirMade.then((d) => rm(d, { recursive: true, force: true })).catch(() => undefined);
    throw err;
  }
  log.info({ phase: 'run_started', provider_url: deps.providerUrl }, 'ingest run started');
  markRecorded();

  let error: Error | null = null;
  const sifter = new FeedSifter(deps.provider, log, deps.maxLoggedRejections ?? 20);
  const progress: FeedProgress = { unknownElements: {}, bytes: 0 };
  let reader: FeedReader | null = null;
  const sent = { items: 0 };
  let feedUnchanged = false;
  const stopProgress = reportProgress(log, deps.progressMs ?? 5_000, {
    received: () => receivedBytes,
    parsed: () => reader?.stats.events ?? 0,
    written: () => sent.items,
  });
  let dir: string | null = null;
  try {
    dir = await dirMade;
    const { previous, held, feedFile, received, feed, streamed } = await fetching;
    if (received) progress.bytes = received.bytes;
    const same =
      feed.notModified === true ||
      (received !== null && held?.sha256 === received.sha256 && held.bytes === received.bytes);
    if (held && previous && same) {
      // Nothing to parse or write: the stored documents already hold what these bytes say.
      log.info(
        {
          phase: 'feed_unchanged',
          previous_run_id: previous.run_id,
          not_modified: feed.notModified === true,
          sha256: held.sha256,
          bytes: held.bytes,
          written_day: held.written_day,
        },
        feed.notModified
          ? `the provider answered 304 Not Modified: the feed is the one of run ${previous.run_id}, written today; nothing parsed or written`
          : `the feed is byte for byte the one of run ${previous.run_id}, written today: nothing parsed or written`,
      );
      feedUnchanged = true;
      progress.bytes = held.bytes;
      run.feed = { ...held, unchanged: true };
      Object.assign(counts, previous.counts, { items_changed: 0, bulk_failures: 0 });
      return await finish(null);
    }
    const recordOf = (bytes: ReceivedFeed): FeedRecord => ({
      ...bytes,
      unchanged: false,
      written_day: day,
      documents: 0,
      time_zone: deps.timeZone,
      code: deps.documentCode ?? documentCodeFingerprint(),
      etag: feed.etag ?? null,
      last_modified: feed.lastModified ?? null,
    });
    if (received) run.feed = recordOf(received);
    const file = join(dir, 'ops.ndjson');
    const context = { runId, seenAt: started.toISOString(), timeZone: deps.timeZone };
    const spooled = await spoolFeed(
      deps,
      streamed ? streamed.chunks : (feedFile as string),
      file,
      sifter,
      counts,
      progress,
      context,
      log,
      (r) => {
        reader = r;
      },
    );
    if (feedFile) await rm(feedFile, { force: true });
    run.feed = {
      ...(run.feed ?? recordOf(streamed ? streamed.received() : { sha256: '', bytes: 0 })),
      documents: sifter.identities,
    };
    // The feed was complete: its rejections and duplicates count (a failed read records none, as
    // nothing of it is applied).
    const rejections = sifter.rejections();
    counts.events_rejected = rejections.total;
    counts.rejected_by_reason = rejections.byReason;
    counts.duplicates = sifter.duplicates;
    checkRejectedShare(sifter, rejections, deps.maxRejectedRatio ?? 0.5, log);

    const written = await writeSpooled(deps, file, spooled, context, sifter, sent);
    sifter.forgetIds();
    counts.events_upserted = written.eventsWritten;
    counts.items_changed = written.changed;
    counts.bulk_failures = written.failures;
    log.info(
      {
        phase: 'events_written',
        items: written.items,
        events_upserted: written.eventsWritten,
        rejected_recorded: written.rejectedWritten,
        items_changed: written.changed,
        items_unchanged: written.unchanged,
        items_created: written.created,
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
    stopProgress();
    feedDone.abort(new Error('the run ended'));
    if (dir !== null) await rm(dir, { recursive: true, force: true });
  }
  return finish(error);

  async function finish(failure: Error | null): Promise<RunResult> {
    const recorded = await recordEnd(deps, run, started, now(), failure, log);
    return {
      run,
      ok: recorded === null,
      error: recorded,
      duplicates: feedUnchanged ? (counts.duplicates ?? 0) : sifter.duplicates,
      unknownElements: progress.unknownElements,
      bytes: progress.bytes,
      feedUnchanged,
    };
  }
}

/** The run before this one (null, with a warning, when it cannot be read: the full path follows). */
async function previousRun(deps: RunDeps, runId: string, log: Logger): Promise<RunDocument | null> {
  try {
    return (await deps.runs.previous?.(deps.provider, runId)) ?? null;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.warn({ phase: 'feed_unchanged', err: message }, 'could not read the previous run');
    return null;
  }
}

/**
 * The previous run's feed record when the stored documents are what its bytes say, as this run
 * would write them (docs/adr/0016-*.md): that run succeeded, wrote them in full the same UTC day
 * with the same provider time zone and the same document-building code, and the index holds its
 * documents. Null when the run must take the full path whatever it fetches.
 */
async function heldFeed(
  deps: RunDeps,
  previous: RunDocument | null,
  day: string,
  log: Logger,
): Promise<FeedRecord | null> {
  const feed = previous?.feed;
  if (!deps.unchangedFeeds || previous?.outcome !== 'succeeded' || !feed) return null;
  if (feed.written_day !== day || feed.time_zone !== deps.timeZone) return null;
  if (feed.code !== (deps.documentCode ?? documentCodeFingerprint())) {
    log.info(
      { phase: 'feed_unchanged', previous_run_id: previous.run_id },
      'the previous run wrote its documents with other code (another release): this run takes the full path',
    );
    return null;
  }
  const stored = await deps.unchangedFeeds.storedDocuments();
  if (stored < feed.documents) {
    log.warn(
      { phase: 'feed_unchanged', stored_documents: stored, documents: feed.documents },
      'the index lacks some documents of the last feed: this run takes the full path',
    );
    return null;
  }
  return feed;
}
