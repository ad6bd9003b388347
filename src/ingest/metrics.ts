/**
 * Sets the ingest metrics (src/observability/metrics.ts) from a finished run and pushes them to a
 * Pushgateway when one is configured (the ingester is a short-lived job: nothing would scrape it).
 */
import { REJECTION_REASONS } from '../domain/event.js';
import { Pushgateway } from 'prom-client';
import { METRIC_PREFIX, type IngestMetrics } from '../observability/metrics.js';
import type { RunDocument } from '../store/indices.js';

export function recordRunMetrics(metrics: IngestMetrics, run: RunDocument): void {
  const c = run.counts;
  metrics.runDuration.set((run.duration_ms ?? 0) / 1000);
  metrics.baseEventsRead.set(c.base_events_read);
  metrics.eventsRead.set(c.events_read);
  metrics.eventsUpserted.set(c.events_upserted);
  metrics.bulkFailures.set(c.bulk_failures);
  metrics.duplicateEvents.set(c.duplicates ?? 0);
  metrics.eventsRejected.reset();
  // Every reason is reported, 0 included, so the series exist after a clean run too (dashboards and
  // rate() over them need no `or vector(0)`).
  for (const reason of REJECTION_REASONS) metrics.eventsRejected.set({ reason }, 0);
  for (const [reason, count] of Object.entries(c.rejected_by_reason)) {
    metrics.eventsRejected.set({ reason }, count ?? 0);
  }
  const finished = run.finished_at ? Date.parse(run.finished_at) / 1000 : Date.now() / 1000;
  metrics.lastRun.set({ outcome: run.outcome }, finished);
  if (run.outcome === 'succeeded') metrics.lastSuccess.set(finished);
}

/**
 * Adds this run's metrics to the Pushgateway (grouped by job and provider). POST, not PUT: a
 * metric this run has no value for (the last success time, after a failed run) keeps what an
 * earlier run pushed. Rejects on failure; the caller treats a failed push as a warning.
 */
export async function pushRunMetrics(
  metrics: IngestMetrics,
  run: RunDocument,
  options: { url: string; job: string; timeoutMs?: number },
): Promise<void> {
  if (run.outcome !== 'succeeded') {
    // Unset, it would be pushed as 0 and overwrite the real last success.
    metrics.registry.removeSingleMetric(`${METRIC_PREFIX}ingest_last_success_timestamp_seconds`);
  }
  const gateway = new Pushgateway(
    options.url,
    { timeout: options.timeoutMs ?? 5_000 },
    metrics.registry,
  );
  await gateway.pushAdd({ jobName: options.job, groupings: { provider: run.provider } });
}
