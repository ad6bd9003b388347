/**
 * Builds the search API exactly as src/main/api.ts does, over a given Elasticsearch client and
 * index prefix, for in-process tests (supertest over `app.callback()`).
 */
import { Registry } from 'prom-client';
import supertest from 'supertest';
import { createApp, type Lifecycle } from '../../../src/api/app.js';
import { FreshnessPoller } from '../../../src/api/freshness-poller.js';
import { SearchCache } from '../../../src/api/search-cache.js';
import { createLogger } from '../../../src/observability/logger.js';
import { createApiMetrics } from '../../../src/observability/metrics.js';
import type { Client } from '../../../src/store/client.js';
import { createEventReader } from '../../../src/store/event-reader.js';
import { latestSuccessfulRun } from '../../../src/store/freshness.js';
import type { IndexNames } from '../../../src/store/indices.js';

export interface ApiFixtureOptions {
  client: Client;
  names: IndexNames;
  zone?: string;
  pageSize?: number;
  maxEntryBytes?: number;
  pollMs?: number;
  /** Per-request Elasticsearch timeout, as src/main/api.ts passes it. */
  requestTimeoutMs?: number;
}

export function buildApi(opts: ApiFixtureOptions) {
  const metrics = createApiMetrics(new Registry());
  const logger = createLogger({ name: 'api-test', level: process.env.LOG_LEVEL ?? 'silent' });
  const esCalls: string[] = [];
  const reader = createEventReader(opts.client, opts.names, {
    pageSize: opts.pageSize ?? 1_000,
    requestTimeoutMs: opts.requestTimeoutMs ?? 500,
    observe: (operation, seconds, failed) => {
      esCalls.push(operation);
      metrics.esDuration.observe({ operation }, seconds);
      if (failed) metrics.esErrors.inc({ operation });
    },
  });
  const cache = new SearchCache(reader, {
    maxEntries: 100,
    maxBytes: 64 * 1024 * 1024,
    maxEntryBytes: opts.maxEntryBytes ?? 16 * 1024 * 1024,
    metrics,
    logger,
  });
  const pollMs = opts.pollMs ?? 5_000;
  const poller = new FreshnessPoller({
    read: () =>
      latestSuccessfulRun(opts.client, opts.names, {
        requestTimeoutMs: opts.requestTimeoutMs ?? 500,
      }),
    onRun: (run) => cache.observeRun(run),
    intervalMs: pollMs,
    metrics,
    logger,
  });
  const lifecycle: Lifecycle = { shuttingDown: false };
  const app = createApp({
    logger,
    metrics,
    cache,
    reader,
    providerTimeZone: opts.zone ?? 'UTC',
    cacheMaxAgeSeconds: pollMs / 1000,
    retryAfterSeconds: 5,
    lifecycle,
    freshness: poller,
  });
  return {
    app,
    http: supertest(app.callback()),
    cache,
    poller,
    metrics,
    lifecycle,
    reader,
    esCalls,
  };
}
