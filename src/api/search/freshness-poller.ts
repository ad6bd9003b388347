/**
 * Polls the ingest run records every few seconds (never per request) and tells the search cache
 * when a newer successful run has completed. Also keeps the freshness metrics current.
 */
import { withoutTracing } from '../../observability/spans.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiMetrics } from '../../observability/metrics.js';
import type { SuccessfulRun } from './freshness.js';

export interface FreshnessPollerOptions {
  /** Reads the newest successful run (null: never), e.g. `latestSuccessfulRun`. */
  read: () => Promise<SuccessfulRun | null>;
  /** Called with every successful read. */
  onRun: (run: SuccessfulRun | null) => void;
  intervalMs: number;
  metrics?: Pick<ApiMetrics, 'esUp' | 'lastIngestSuccess' | 'dataAge'>;
  logger?: Logger;
  now?: () => number;
}

export class FreshnessPoller {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  private failing = false;
  /** The newest successful run seen; undefined before the first successful poll. */
  latest: SuccessfulRun | null | undefined;

  constructor(private readonly options: FreshnessPollerOptions) {}

  /** True once a poll has read the data version (a run, or that there is none): readiness. */
  get warmed(): boolean {
    return this.latest !== undefined;
  }

  /** Polls at once, then every `intervalMs` (a poll never overlaps the previous one). */
  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick();
  }

  stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.current ?? Promise.resolve();
  }

  /** One poll; never throws (a failure is logged and counted as Elasticsearch down). */
  async pollOnce(): Promise<void> {
    const { metrics, logger } = this.options;
    try {
      // Housekeeping, every few seconds on every replica: no trace of its own.
      const run = await withoutTracing(() => this.options.read());
      this.latest = run;
      metrics?.esUp.set(1);
      if (run) metrics?.lastIngestSuccess.set(Date.parse(run.finishedAt) / 1000);
      this.updateAge();
      if (this.failing) logger?.info('freshness poll: Elasticsearch answers again');
      this.failing = false;
      this.options.onRun(run);
    } catch (err) {
      metrics?.esUp.set(0);
      if (!this.failing) logger?.warn({ err }, 'freshness poll failed; keeping the current cache');
      this.failing = true;
    }
  }

  /** Sets the data-age gauge from the newest run seen (called before each scrape too). */
  updateAge(): void {
    if (!this.latest) return;
    const now = this.options.now?.() ?? Date.now();
    this.options.metrics?.dataAge.set(
      Math.max(0, (now - Date.parse(this.latest.finishedAt)) / 1000),
    );
  }

  private async tick(): Promise<void> {
    this.current = this.pollOnce();
    await this.current;
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }
}
