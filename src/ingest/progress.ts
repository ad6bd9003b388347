/**
 * Progress of a long ingest run (issue 18): every `everyMs` one `progress` log line with the
 * events parsed so far, the items handed to the writer, the rate and the time elapsed, so an
 * operator watching a run of several minutes sees it move. Stopped when the run ends.
 */
import type { Logger } from '../observability/logger.js';

export interface ProgressCounts {
  /** Bytes of the feed received so far (phase 0, before any parsing). */
  received?: () => number;
  /** Events parsed from the feed so far (phase 1). */
  parsed: () => number;
  /** Items handed to the bulk writer so far (phase 2). */
  written: () => number;
}

/** Starts the progress lines; returns the function that stops them. */
export function reportProgress(
  log: Logger,
  everyMs: number,
  counts: ProgressCounts,
  clock: () => number = Date.now,
): () => void {
  const started = clock();
  const timer = setInterval(() => {
    const elapsedMs = clock() - started;
    const parsed = counts.parsed();
    const written = counts.written();
    const received = counts.received?.() ?? 0;
    if (parsed === 0 && written === 0) {
      log.info(
        { phase: 'progress', stage: 'receiving', bytes_received: received, elapsed_ms: elapsedMs },
        `receiving: ${received} bytes of the feed, ${(elapsedMs / 1000).toFixed(0)} s elapsed`,
      );
      return;
    }
    const stage = written > 0 ? 'writing' : 'reading';
    const perSecond = Math.round(((stage === 'writing' ? written : parsed) * 1000) / elapsedMs);
    log.info(
      {
        phase: 'progress',
        stage,
        bytes_received: received,
        events_parsed: parsed,
        items_written: written,
        per_second: perSecond,
        elapsed_ms: elapsedMs,
      },
      `${stage}: ${parsed} events parsed, ${written} written, ${perSecond}/s, ${(elapsedMs / 1000).toFixed(0)} s elapsed`,
    );
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
