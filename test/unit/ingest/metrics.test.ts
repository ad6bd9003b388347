import { describe, expect, it } from '@jest/globals';
import { REJECTION_REASONS } from '../../../src/domain/event.js';
import { recordRunMetrics } from '../../../src/ingest/metrics.js';
import { createIngestMetrics } from '../../../src/observability/metrics.js';
import type { RunDocument } from '../../../src/store/indices.js';

const run = (rejected: RunDocument['counts']['rejected_by_reason']): RunDocument => ({
  run_id: 'r1',
  provider: 'primary',
  provider_url: 'http://provider/feed',
  started_at: '2026-11-22T10:00:00.000Z',
  finished_at: '2026-11-22T10:00:05.000Z',
  duration_ms: 5000,
  outcome: 'succeeded',
  error: null,
  counts: {
    base_events_read: 3,
    events_read: 4,
    events_upserted: 4,
    events_rejected: Object.values(rejected).reduce((a, b) => a + (b ?? 0), 0),
    bulk_failures: 0,
    rejected_by_reason: rejected,
  },
});

async function rejectedSeries(metrics: ReturnType<typeof createIngestMetrics>) {
  const json = await metrics.eventsRejected.get();
  return Object.fromEntries(json.values.map((v) => [String(v.labels.reason), v.value]));
}

describe('recordRunMetrics', () => {
  it('reports every rejection reason, zero included, so the series exist after a clean run', async () => {
    const metrics = createIngestMetrics();
    recordRunMetrics(metrics, run({}));
    expect(await rejectedSeries(metrics)).toEqual(
      Object.fromEntries(REJECTION_REASONS.map((r) => [r, 0])),
    );
  });

  it('sets the counts of the reasons that occurred and the run gauges', async () => {
    const metrics = createIngestMetrics();
    recordRunMetrics(metrics, run({ invalid_date: 2 }));
    expect(await rejectedSeries(metrics)).toMatchObject({ invalid_date: 2, missing_id: 0 });
    expect((await metrics.runDuration.get()).values[0]?.value).toBe(5);
    expect((await metrics.lastSuccess.get()).values[0]?.value).toBe(
      Date.parse('2026-11-22T10:00:05.000Z') / 1000,
    );
  });
});
