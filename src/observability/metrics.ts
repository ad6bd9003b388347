/**
 * The Prometheus metric catalog. Every name a dashboard panel or alert rule uses is defined here and
 * nowhere else (a test checks that each one exists in a real scrape).
 *
 * Each process creates its own registry: the API serves it on `/metrics`; the ingester, a
 * short-lived job, pushes it to a Pushgateway when one is configured.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'event_search_';

/** Default Node.js gauges named like counters (`promtool check metrics` rejects them). */
const LINT_FAILING_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Latency buckets for an API that answers in milliseconds (seconds, Prometheus convention). */
const FAST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export function createApiMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  // The same counts stay available by type, without the suffix (`..._active_handles` etc.).
  for (const name of LINT_FAILING_DEFAULTS) registry.removeSingleMetric(METRIC_PREFIX + name);
  const metrics = {
    registry,
    httpRequests: new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'HTTP requests answered, by route template, method and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time to answer an HTTP request, by route template, method and status code.',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: FAST_BUCKETS,
      registers: [registry],
    }),
    httpInFlight: new Gauge({
      name: `${METRIC_PREFIX}http_requests_in_flight`,
      help: 'HTTP requests being answered now.',
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: `${METRIC_PREFIX}search_cache_lookups_total`,
      help: 'Search cache lookups by result: hit, miss, coalesced (joined a query under way) or stale (served after an Elasticsearch failure).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    cacheEntries: new Gauge({
      name: `${METRIC_PREFIX}search_cache_entries`,
      help: 'Windows held in the search cache.',
      registers: [registry],
    }),
    esDuration: new Histogram({
      name: `${METRIC_PREFIX}es_request_duration_seconds`,
      help: 'Time of Elasticsearch requests made by the API, by operation.',
      labelNames: ['operation'] as const,
      buckets: FAST_BUCKETS,
      registers: [registry],
    }),
    esErrors: new Counter({
      name: `${METRIC_PREFIX}es_request_errors_total`,
      help: 'Elasticsearch requests made by the API that failed, by operation.',
      labelNames: ['operation'] as const,
      registers: [registry],
    }),
    esUp: new Gauge({
      name: `${METRIC_PREFIX}es_up`,
      help: '1 when the last freshness poll of Elasticsearch succeeded, else 0 (not a readiness condition).',
      registers: [registry],
    }),
    lastIngestSuccess: new Gauge({
      name: `${METRIC_PREFIX}last_successful_ingest_timestamp_seconds`,
      help: 'Unix time at which the newest successful ingest run of each provider finished (0: none yet), read from the run records.',
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
    dataAge: new Gauge({
      name: `${METRIC_PREFIX}data_age_seconds`,
      help: "Seconds since the newest successful ingest run of each provider finished (that provider's data freshness).",
      labelNames: ['provider'] as const,
      registers: [registry],
    }),
    bulkheadRejections: new Counter({
      name: `${METRIC_PREFIX}search_bulkhead_rejections_total`,
      help: 'Cache misses the bulkhead turned away because this replica already ran its maximum of Elasticsearch queries (reason queries) or open points in time (reason points_in_time): answered stale when an older answer was cached, else 503 overloaded.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    shed: new Counter({
      name: `${METRIC_PREFIX}http_requests_shed_total`,
      help: 'Requests refused with 503 because the event loop lagged (load shedding).',
      registers: [registry],
    }),
  };
  // Both reasons exist from the start (at 0), so rate() and the alert see the first refusal.
  for (const reason of ['queries', 'points_in_time'] as const) {
    metrics.bulkheadRejections.labels({ reason }).inc(0);
  }
  return metrics;
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

export function createIngestMetrics(registry = new Registry()) {
  return {
    registry,
    runDuration: new Gauge({
      name: `${METRIC_PREFIX}ingest_run_duration_seconds`,
      help: 'Duration of the last ingest run.',
      registers: [registry],
    }),
    baseEventsRead: new Gauge({
      name: `${METRIC_PREFIX}ingest_base_events_read`,
      help: 'Base events read from the feed by the last ingest run.',
      registers: [registry],
    }),
    eventsRead: new Gauge({
      name: `${METRIC_PREFIX}ingest_events_read`,
      help: 'Events read from the feed by the last ingest run.',
      registers: [registry],
    }),
    eventsUpserted: new Gauge({
      name: `${METRIC_PREFIX}ingest_events_upserted`,
      help: 'Events written to Elasticsearch by the last ingest run.',
      registers: [registry],
    }),
    eventsRejected: new Gauge({
      name: `${METRIC_PREFIX}ingest_events_rejected`,
      help: 'Events the last ingest run could not accept, by reason.',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
    duplicateEvents: new Gauge({
      name: `${METRIC_PREFIX}ingest_duplicate_events`,
      help: 'Extra copies of events the feed of the last ingest run carried (the last valid copy is written).',
      registers: [registry],
    }),
    bulkFailures: new Gauge({
      name: `${METRIC_PREFIX}ingest_bulk_failures`,
      help: 'Bulk items Elasticsearch refused in the last ingest run.',
      registers: [registry],
    }),
    lastRun: new Gauge({
      name: `${METRIC_PREFIX}ingest_last_run_timestamp_seconds`,
      help: 'Unix time at which the last ingest run finished, by outcome (succeeded or failed).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    lastSuccess: new Gauge({
      name: `${METRIC_PREFIX}ingest_last_success_timestamp_seconds`,
      help: 'Unix time at which the last successful ingest run finished.',
      registers: [registry],
    }),
  };
}
export type IngestMetrics = ReturnType<typeof createIngestMetrics>;
