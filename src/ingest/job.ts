/**
 * One ingest run as a job, assembled from its configuration: the one builder that
 * src/main/ingest.ts, the tests and the benchmarks call. `run` fetches the provider's feed, writes
 * it, records the run, pushes its metrics and flushes its traces, and resolves to the process's
 * exit code: 0 only when the feed was read to its end and every item was written, 1 otherwise,
 * 3 (`EXIT_LEASE_HELD`) when another run holds the ingest lease (one writer at a time; this run
 * then reads and writes nothing, and records no run).
 */
import { randomUUID } from 'node:crypto';
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { IngestEnv } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { flushSpans, withSpan } from '../observability/spans.js';
import { createEsClient, type Client } from '../store/client.js';
import { checkIndices, indexNames } from '../store/indices.js';
import { httpFeedSource, redactUrl } from './feed-client.js';
import { feedFormat } from './formats/index.js';
import { acquireLease, EXIT_LEASE_HELD, LeaseHeldError, type Lease } from './lease.js';
import { createRunStore } from './run-store.js';
import { runIngest, type FeedSource, type RunDeps, type RunResult } from './run.js';
import { writeEvents } from './writer.js';

export interface IngestJobOptions {
  logger?: Logger;
  /** Aborting it stops the run, which is then recorded as failed. */
  signal?: AbortSignal;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The provider's feed over HTTP, with the retry policy of PROVIDER_*. */
function providerFeed(env: IngestEnv, logger: Logger): FeedSource {
  return httpFeedSource({
    url: env.PROVIDER_URL,
    timeoutMs: env.PROVIDER_TIMEOUT_MS,
    idleTimeoutMs: env.PROVIDER_IDLE_TIMEOUT_MS,
    retries: env.PROVIDER_RETRIES,
    minRetryDelayMs: env.PROVIDER_RETRY_MIN_DELAY_MS,
    maxRetryDelayMs: env.PROVIDER_RETRY_MAX_DELAY_MS,
    maxBytes: env.PROVIDER_MAX_FEED_BYTES,
    onRetry: ({ attempt, error, delayHintMs }) =>
      logger.warn(
        { phase: 'feed_retry', attempt, code: error.code, retry_after_ms: delayHintMs },
        `feed attempt ${attempt} failed, retrying: ${error.message}`,
      ),
  });
}

/**
 * Pushes the run's metrics when a Pushgateway is configured; a failure only warns. Without one
 * there is no one to read them: prom-client is not even loaded (docs/adr/0016-*.md).
 */
async function pushMetrics(env: IngestEnv, logger: Logger, result: RunResult): Promise<void> {
  if (!env.PUSHGATEWAY_URL) return;
  const [{ createIngestMetrics }, { pushRunMetrics, recordRunMetrics }] = await Promise.all([
    import('../observability/metrics.js'),
    import('./metrics.js'),
  ]);
  const metrics = createIngestMetrics();
  recordRunMetrics(metrics, result.run);
  const pushgateway = redactUrl(env.PUSHGATEWAY_URL);
  try {
    await pushRunMetrics(metrics, result.run, {
      url: env.PUSHGATEWAY_URL,
      job: env.PUSHGATEWAY_JOB,
    });
    logger.info({ phase: 'metrics_pushed', pushgateway }, 'metrics pushed');
  } catch (err) {
    logger.warn(
      { phase: 'metrics_pushed', pushgateway, err: message(err) },
      'could not push metrics to the Pushgateway (the run itself is unaffected)',
    );
  }
}

/** The run in one line a person can read, e.g. "3 events read, 2 written, 1 rejected (invalid_price 1), 0 duplicates in 1.2 s". */
export function readableSummary(result: RunResult): string {
  const c = result.run.counts;
  const reasons = Object.entries(c.rejected_by_reason)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(', ');
  const seconds = ((result.run.duration_ms ?? 0) / 1000).toFixed(1);
  return (
    `${c.events_read} events read, ${c.events_upserted} written, ${c.events_rejected} rejected` +
    `${reasons ? ` (${reasons})` : ''}, ${result.duplicates} duplicates` +
    `${c.bulk_failures ? `, ${c.bulk_failures} bulk failures` : ''} in ${seconds} s` +
    `${result.feedUnchanged ? ' (feed unchanged: not parsed, nothing written)' : ''}`
  );
}

/** The final `summary` log line; marks the root span failed when the run failed. */
function logSummary(logger: Logger, result: RunResult, rootSpan: Span): void {
  const { run } = result;
  const summary = {
    phase: 'summary',
    run_id: run.run_id,
    outcome: run.outcome,
    duration_ms: run.duration_ms,
    counts: run.counts,
    feed: run.feed,
    duplicates: result.duplicates,
    unknown_elements: result.unknownElements,
    bytes: result.bytes,
    // Peak resident memory of this process (what the streaming design keeps flat).
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    error: run.error,
  };
  if (result.ok) {
    logger.info(summary, `ingest run succeeded: ${readableSummary(result)}`);
  } else {
    rootSpan.setStatus({ code: SpanStatusCode.ERROR, message: run.error ?? 'ingest run failed' });
    logger.error(
      summary,
      `ingest run failed: ${run.error ?? 'unknown error'} (${readableSummary(result)})`,
    );
  }
}

/**
 * The run's ports as the job wires them: the bulk writer and the run store over `client`, and the
 * provider's feed over HTTP (or `parts.source`, a test's bytes).
 */
export function ingestRunDeps(
  client: Client,
  env: IngestEnv,
  parts: { logger: Logger; source?: FeedSource; signal?: AbortSignal },
): RunDeps {
  const alias = indexNames(env.ES_INDEX_PREFIX).eventsAlias;
  return {
    provider: env.PROVIDER_NAME,
    timeZone: env.PROVIDER_TIMEZONE,
    providerUrl: redactUrl(env.PROVIDER_URL),
    source: parts.source ?? providerFeed(env, parts.logger),
    parser: feedFormat(env.PROVIDER_FORMAT).reader,
    sink: (ops, context) =>
      writeEvents(ops, {
        client,
        index: alias,
        context,
        provider: env.PROVIDER_NAME,
        flushBytes: env.INGEST_BULK_FLUSH_BYTES,
        concurrency: env.INGEST_BULK_CONCURRENCY,
      }),
    runs: createRunStore(client, env.ES_INDEX_PREFIX),
    logger: parts.logger,
    spoolDir: env.INGEST_SPOOL_DIR,
    signal: parts.signal,
    maxRejectedRatio: env.INGEST_MAX_REJECTED_RATIO,
    progressMs: env.INGEST_PROGRESS_MS,
    ...(env.INGEST_SKIP_UNCHANGED_FEED && {
      unchangedFeeds: {
        storedDocuments: async () =>
          (await client.count({ index: alias, query: { term: { provider: env.PROVIDER_NAME } } }))
            .count,
      },
    }),
  };
}

export function createIngestJob(env: IngestEnv, opts: IngestJobOptions = {}) {
  const logger = opts.logger ?? createLogger({ name: 'ingest' });
  const providerUrl = redactUrl(env.PROVIDER_URL);

  async function runOnce(client: Client, rootSpan: Span): Promise<number> {
    // The bootstrap Job owns templates and settings; a run only checks they are in place.
    const names = await withSpan('ingest.check_indices', {}, () =>
      checkIndices(client, env.ES_INDEX_PREFIX),
    );
    logger.info({ phase: 'indices_checked', alias: names.eventsAlias }, 'indices ready');
    const runId = randomUUID();
    const lease = await takeLease(client, names.leaseIndex, runId);
    if (!lease) return EXIT_LEASE_HELD;
    let result: RunResult;
    try {
      // The run stops when SIGTERM arrives or when the lease is lost.
      const signal = opts.signal ? AbortSignal.any([opts.signal, lease.lost]) : lease.lost;
      result = await runIngest({ ...ingestRunDeps(client, env, { logger, signal }), runId });
    } finally {
      await lease.release();
    }
    await pushMetrics(env, logger, result);
    logSummary(logger, result, rootSpan);
    return result.ok ? 0 : 1;
  }

  /** The ingest lease for `runId`, or null (logged) when another run holds it. */
  async function takeLease(client: Client, index: string, runId: string): Promise<Lease | null> {
    try {
      return await acquireLease({
        client,
        index,
        runId,
        provider: env.PROVIDER_NAME,
        ttlMs: env.INGEST_LEASE_TTL_MS,
        onTakeover: (expired) =>
          logger.warn(
            {
              phase: 'lease',
              run_id: runId,
              expired_holder: expired.holder,
              expired_at: expired.expires_at,
            },
            `took over the ingest lease of run ${expired.holder}, expired at ${expired.expires_at} (that run ended without releasing it)`,
          ),
      });
    } catch (err) {
      if (!(err instanceof LeaseHeldError)) throw err;
      logger.error(
        {
          phase: 'lease',
          outcome: 'lease_held',
          holder: err.holder,
          expires_at: err.expiresAt,
          exit_code: EXIT_LEASE_HELD,
        },
        err.message,
      );
      return null;
    }
  }

  /** One run; resolves to the exit code (0 succeeded, 1 failed, 3 lease held). Never rejects. */
  async function run(): Promise<number> {
    logger.info(
      {
        phase: 'config',
        provider: env.PROVIDER_NAME,
        provider_url: providerUrl,
        provider_format: env.PROVIDER_FORMAT,
        provider_timezone: env.PROVIDER_TIMEZONE,
        elasticsearch_url: redactUrl(env.ELASTICSEARCH_URL),
        index_prefix: env.ES_INDEX_PREFIX,
      },
      'configuration read',
    );
    const client = createEsClient(env);
    let exitCode = 1;
    const attributes = { 'event_search.provider': env.PROVIDER_NAME };
    await withSpan('ingest.run', attributes, async (rootSpan) => {
      try {
        exitCode = await runOnce(client, rootSpan);
      } catch (err) {
        // Elasticsearch unreachable before the run could even be recorded.
        logger.error(
          { phase: 'summary', outcome: 'failed', error: message(err) },
          `ingest run failed: ${message(err)}`,
        );
      } finally {
        await client.close().catch(() => undefined);
      }
      rootSpan.setAttribute('event_search.exit_code', exitCode);
    });
    // The batch span processor would lose the run's spans at exit: send them first.
    await flushSpans().catch((err: unknown) =>
      logger.warn({ phase: 'traces_flushed', err: message(err) }, 'could not flush traces'),
    );
    return exitCode;
  }

  return { run };
}
