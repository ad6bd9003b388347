/**
 * `npm start`: the search API as a process.
 *
 * Configuration comes from the environment (see `apiEnv` in src/config.ts); a wrong value stops the
 * process at once with a message naming the variable. SIGTERM/SIGINT shut it down gracefully within
 * SHUTDOWN_TIMEOUT_MS.
 */
import { apiEnv, configOrExit, type ApiEnv } from '../config.js';
import { createApp, type Lifecycle } from '../api/app.js';
import { FreshnessPoller } from '../api/freshness-poller.js';
import { LoadShedder } from '../api/load-shedding.js';
import { SearchCache } from '../api/search-cache.js';
import { listen, portOf, shutdownGracefully } from '../api/server.js';
import { createLogger } from '../observability/logger.js';
import { createApiMetrics } from '../observability/metrics.js';
import { createEsClient } from '../store/client.js';
import { createEventReader } from '../store/event-reader.js';
import { latestSuccessfulRun } from '../store/freshness.js';
import { indexNames } from '../store/indices.js';

const logger = createLogger({ name: 'api' });

const config: ApiEnv = configOrExit(apiEnv, logger);

const metrics = createApiMetrics();
// No retries and a short per-request timeout: an outage becomes a fast 503 (or a stale answer).
// The client-wide timeout is only a backstop: undici enforces it with a one-second timer, so the
// real bound is passed with every request (ES_REQUEST_TIMEOUT_MS).
const requestTimeoutMs = config.ES_REQUEST_TIMEOUT_MS;
const client = createEsClient(
  { ...config, ES_REQUEST_TIMEOUT_MS: Math.max(5_000, requestTimeoutMs * 4) },
  { maxRetries: 0 },
);
const names = indexNames(config.ES_INDEX_PREFIX);
const reader = createEventReader(client, names, {
  pageSize: config.SEARCH_PAGE_SIZE,
  requestTimeoutMs,
  observe: (operation, seconds, failed) => {
    metrics.esDuration.observe({ operation }, seconds);
    if (failed) metrics.esErrors.inc({ operation });
  },
});
const cache = new SearchCache(reader, {
  maxEntries: config.CACHE_MAX_ENTRIES,
  maxBytes: config.CACHE_MAX_BYTES,
  maxEntryBytes: config.CACHE_MAX_ENTRY_BYTES,
  metrics,
  logger,
});
const poller = new FreshnessPoller({
  read: () => latestSuccessfulRun(client, names, { requestTimeoutMs }),
  onRun: (run) => cache.observeRun(run),
  intervalMs: config.FRESHNESS_POLL_MS,
  metrics,
  logger,
});
const lifecycle: Lifecycle = { shuttingDown: false };
const shedder = new LoadShedder({
  maxLagMs: config.SHED_LAG_MS,
  sampleIntervalMs: config.SHED_SAMPLE_MS,
});
const app = createApp({
  logger,
  metrics,
  cache,
  reader,
  providerTimeZone: config.PROVIDER_TIMEZONE,
  cacheMaxAgeSeconds: config.FRESHNESS_POLL_MS / 1000,
  retryAfterSeconds: config.RETRY_AFTER_SECONDS,
  lifecycle,
  freshness: poller,
  rateLimit: config.RATE_LIMIT_ENABLED
    ? { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS }
    : undefined,
  shedder: config.SHED_LAG_MS > 0 ? shedder : undefined,
  shedRetryAfterSeconds: config.SHED_RETRY_AFTER_SECONDS,
  maxUrlLength: config.HTTP_MAX_URL_LENGTH,
  accessLog: { mode: config.ACCESS_LOG, slowMs: config.ACCESS_LOG_SLOW_MS },
  proxyHops: config.PROXY_HOPS,
});

poller.start();
shedder.start();
const server = await listen(app.callback(), {
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
    elasticsearch: config.ELASTICSEARCH_URL,
    alias: names.eventsAlias,
    provider_timezone: config.PROVIDER_TIMEZONE,
    rate_limit: config.RATE_LIMIT_ENABLED
      ? `${config.RATE_LIMIT_MAX}/${config.RATE_LIMIT_WINDOW_MS}ms per client`
      : 'off',
    shed_lag_ms: config.SHED_LAG_MS || 'off',
  },
  'search API listening',
);

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  // Whatever happens below, the process is gone within the bound (plus a little for the logs).
  setTimeout(() => {
    logger.error('shutdown did not finish in time; exiting');
    process.exit(1);
  }, config.SHUTDOWN_TIMEOUT_MS + 1_000).unref();
  const result = await shutdownGracefully(server, {
    lifecycle,
    delayMs: config.SHUTDOWN_DELAY_MS,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    logger,
  });
  await poller.stop();
  shedder.stop();
  await client.close().catch(() => undefined);
  logger.info({ ...result }, 'stopped');
  logger.flush();
  process.exit(result.drained ? 0 : 1);
}
process.on('SIGTERM', (signal) => void stop(signal));
process.on('SIGINT', (signal) => void stop(signal));
