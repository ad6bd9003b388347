/**
 * The search API, assembled from its configuration: the one builder that src/main/api.ts, the tests
 * and the benchmarks call. `app` answers requests without listening (tests inject them through
 * `app.callback()`); `start` begins the freshness poll and the lag sampler and listens; `stop` drains
 * the server (readiness fails first) and releases everything.
 */
import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { ApiEnv } from '../config.js';
import { redactUrl } from '../ingest/feed-client.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createApiMetrics } from '../observability/metrics.js';
import { createEsClient, type Client } from '../store/client.js';
import { indexNames } from '../store/indices.js';
import { createApp, type Lifecycle } from './app.js';
import { LoadShedder } from './http/load-shedding.js';
import { listen, portOf, shutdownGracefully, type ShutdownResult } from './http/server.js';
import { Bulkhead, type BulkheadResource } from './search/bulkhead.js';
import { createEventReader, FIRST_FILTER_PATH, type StoreObserver } from './search/event-reader.js';
import { createSearchBatcher, defaultMaxBatch } from './search/search-batcher.js';
import { readFreshness } from './search/freshness.js';
import { FreshnessPoller } from './search/freshness-poller.js';
import { SearchCache } from './search/search-cache.js';

export interface SearchServiceOptions {
  logger?: Logger;
  /** Where the metrics are registered (default: a registry of its own, served on /metrics). */
  registry?: Registry;
  /** The contract served on `/openapi.yaml` (default: the repository's openapi.yaml). */
  openapiYaml?: string;
}

/**
 * The Elasticsearch client of the API: no retries and a short per-request timeout, so an outage
 * becomes a fast 503 (or a stale answer). The client-wide timeout is only a backstop: undici
 * enforces it with a one-second timer, so the real bound is passed with every request
 * (ES_REQUEST_TIMEOUT_MS).
 */
function apiClient(config: ApiEnv): Client {
  const backstopMs = Math.max(5_000, config.ES_REQUEST_TIMEOUT_MS * 4);
  return createEsClient({ ...config, ES_REQUEST_TIMEOUT_MS: backstopMs }, { maxRetries: 0 });
}

export function createSearchService(config: ApiEnv, opts: SearchServiceOptions = {}) {
  const logger = opts.logger ?? createLogger({ name: 'api' });
  const metrics = createApiMetrics(opts.registry);
  const requestTimeoutMs = config.ES_REQUEST_TIMEOUT_MS;
  const client = apiClient(config);
  const names = indexNames(config.ES_INDEX_PREFIX);
  // The bulkhead (docs/adr/0012-production-semantics.md): bounded queries and points in time.
  const rejected = (reason: BulkheadResource) => metrics.bulkheadRejections.inc({ reason });
  const queries = new Bulkhead('queries', config.ES_MAX_CONCURRENT_QUERIES, rejected, {
    size: config.ES_QUERY_QUEUE,
    maxWaitMs: config.ES_QUERY_QUEUE_WAIT_MS,
  });
  const pits = new Bulkhead('points_in_time', config.ES_MAX_OPEN_PITS, rejected);
  const observe: StoreObserver = (operation, seconds, failed) => {
    metrics.esDuration.observe({ operation }, seconds);
    if (failed) metrics.esErrors.inc({ operation });
  };
  // Concurrent misses' first searches as one `_msearch` (docs/adr/0017-*.md, fifth addendum);
  // a batch of at most one: every search sent at once on its own, as before.
  const maxBatch = config.ES_MSEARCH_MAX_BATCH ?? defaultMaxBatch(config.ES_MAX_CONCURRENT_QUERIES);
  const batcher =
    maxBatch > 1
      ? createSearchBatcher(client, {
          filterPath: FIRST_FILTER_PATH,
          maxBatch,
          requestTimeoutMs,
          observe,
        })
      : undefined;
  const reader = createEventReader(client, names, {
    pageSize: config.SEARCH_PAGE_SIZE,
    keepAlive: `${config.SEARCH_PIT_KEEP_ALIVE_MS}ms`,
    requestTimeoutMs,
    pits,
    observe,
    ...(batcher ? { batcher } : {}),
  });
  const cache = new SearchCache(reader, {
    maxEntries: config.CACHE_MAX_ENTRIES,
    maxBytes: config.CACHE_MAX_BYTES,
    maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
    metrics,
    logger,
    queries,
  });
  const poller = new FreshnessPoller({
    read: () => readFreshness(client, names, { requestTimeoutMs }),
    onRun: (run) => cache.observeRun(run),
    intervalMs: config.FRESHNESS_POLL_MS,
    metrics,
    logger,
  });
  const lifecycle: Lifecycle = { shuttingDown: false };
  const shedder =
    config.SHED_LAG_MS > 0
      ? new LoadShedder({ maxLagMs: config.SHED_LAG_MS, sampleIntervalMs: config.SHED_SAMPLE_MS })
      : undefined;
  const app = createApp(config, {
    logger,
    metrics,
    cache,
    lifecycle,
    freshness: poller,
    shedder,
    openapiYaml: opts.openapiYaml,
  });

  let server: Server | undefined;

  /** Starts the background work and listens on PORT (0: any free port, see `portOf`). */
  async function start(): Promise<Server> {
    poller.start();
    shedder?.start();
    server = await listen(app.callback(), {
      port: config.PORT,
      limits: {
        requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
        headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
        keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
        maxHeaderBytes: config.HTTP_MAX_HEADER_BYTES,
      },
    });
    logger.info(
      {
        port: portOf(server),
        elasticsearch: redactUrl(config.ELASTICSEARCH_URL),
        alias: names.eventsAlias,
        rate_limit: config.RATE_LIMIT_ENABLED
          ? `${config.RATE_LIMIT_MAX}/${config.RATE_LIMIT_WINDOW_MS}ms per client`
          : 'off',
        shed_lag_ms: config.SHED_LAG_MS || 'off',
        proxy_hops: config.PROXY_HOPS,
        max_concurrent_queries: config.ES_MAX_CONCURRENT_QUERIES,
        query_queue: `${config.ES_QUERY_QUEUE}, at most ${config.ES_QUERY_QUEUE_WAIT_MS} ms each`,
        max_open_pits: config.ES_MAX_OPEN_PITS,
        msearch_max_batch: maxBatch,
      },
      'search API listening',
    );
    return server;
  }

  /** Drains the server within SHUTDOWN_TIMEOUT_MS, then stops the background work and the client. */
  async function stop(): Promise<ShutdownResult> {
    const result = server
      ? await shutdownGracefully(server, {
          lifecycle,
          delayMs: config.SHUTDOWN_DELAY_MS,
          timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
          logger,
        })
      : { drained: true, durationMs: 0 };
    await poller.stop();
    shedder?.stop();
    await client.close().catch(() => undefined);
    return result;
  }

  return {
    app,
    start,
    stop,
    client,
    names,
    reader,
    cache,
    poller,
    shedder,
    metrics,
    lifecycle,
    bulkheads: { queries, pits },
  };
}

export type SearchService = ReturnType<typeof createSearchService>;
