/**
 * Polls the ingest run records every few seconds (never per request) and tells the search cache
 * when a newer successful run of any provider has completed. Also keeps the freshness metrics
 * current, one series per provider (`provider` label; docs/adr/0014-many-providers.md).
 */
import { withoutTracing } from '../../observability/spans.js';
import type { Logger } from '../../observability/logger.js';
import type { ApiMetrics } from '../../observability/metrics.js';
import type { Freshness, SuccessfulRun } from './freshness.js';

export interface FreshnessPollerOptions {
  /** Reads every provider's newest successful run, e.g. `readFreshness`. */
  read: () => Promise<Freshness>;
  /** Called with every successful read: the newest successful run of any provider (null: never). */
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
  /** Each provider's newest successful run, as last read. */
  private providers: Freshness['providers'] = [];

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
      const freshness = await withoutTracing(() => this.options.read());
      const run = freshness.newest;
      this.latest = run;
      this.providers = freshness.providers;
      metrics?.esUp.set(1);
      this.reportLastSuccess();
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

  /**
   * The last success of each provider with a run record (0: none succeeded yet); with no run
   * recorded at all, one series without a provider, 0 (what EventSearchDataStale fires on).
   */
  private reportLastSuccess(): void {
    const gauge = this.options.metrics?.lastIngestSuccess;
    if (!gauge) return;
    gauge.reset();
    if (this.providers.length === 0) gauge.set(0);
    for (const { provider, lastSuccess } of this.providers) {
      gauge.set({ provider }, lastSuccess ? Date.parse(lastSuccess.finishedAt) / 1000 : 0);
    }
  }

  /** Sets each provider's data age from its newest success (called before each scrape too). */
  updateAge(): void {
    const gauge = this.options.metrics?.dataAge;
    if (!gauge || this.latest === undefined) return;
    const now = this.options.now?.() ?? Date.now();
    gauge.reset();
    for (const { provider, lastSuccess } of this.providers) {
      if (!lastSuccess) continue;
      gauge.set({ provider }, Math.max(0, (now - Date.parse(lastSuccess.finishedAt)) / 1000));
    }
  }

  private async tick(): Promise<void> {
    this.current = this.pollOnce();
    await this.current;
    if (!this.running) return;
    this.timer = setTimeout(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }
}
