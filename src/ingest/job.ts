/**
 * One ingest run as a job, assembled from its configuration: the one builder that
 * src/main/ingest.ts, the tests and the benchmarks call. `run` fetches the provider's feed, writes
 * it, records the run, pushes its metrics and flushes its traces, and resolves to the process's
 * exit code: 0 only when the feed was read to its end and every item was written, 1 otherwise.
 */
import { SpanStatusCode, type Span } from '@opentelemetry/api';
import type { IngestEnv } from '../config.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { createIngestMetrics } from '../observability/metrics.js';
import { flushSpans, withSpan } from '../observability/spans.js';
import { createEsClient, type Client } from '../store/client.js';
import { bootstrapIndices, indexNames } from '../store/indices.js';
import { httpFeedSource, redactUrl } from './feed-client.js';
import { feedFormat } from './formats/index.js';
import { pushRunMetrics, recordRunMetrics } from './metrics.js';
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

/** Pushes the run's metrics when a Pushgateway is configured; a failure only warns. */
async function pushMetrics(
  env: IngestEnv,
  logger: Logger,
  metrics: ReturnType<typeof createIngestMetrics>,
  result: RunResult,
): Promise<void> {
  recordRunMetrics(metrics, result.run);
  if (!env.PUSHGATEWAY_URL) return;
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

/** The final `summary` log line; marks the root span failed when the run failed. */
function logSummary(logger: Logger, result: RunResult, rootSpan: Span): void {
  const { run } = result;
  const summary = {
    phase: 'summary',
    run_id: run.run_id,
    outcome: run.outcome,
    duration_ms: run.duration_ms,
    counts: run.counts,
    duplicates: result.duplicates,
    unknown_elements: result.unknownElements,
    bytes: result.bytes,
    // Peak resident memory of this process (what the streaming design keeps flat).
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
    error: run.error,
  };
  if (result.ok) {
    logger.info(summary, 'ingest run succeeded');
  } else {
    rootSpan.setStatus({ code: SpanStatusCode.ERROR, message: run.error ?? 'ingest run failed' });
    logger.error(summary, `ingest run failed: ${run.error ?? 'unknown error'}`);
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
    providerUrl: redactUrl(env.PROVIDER_URL),
    source: parts.source ?? providerFeed(env, parts.logger),
    parser: feedFormat(env.PROVIDER_FORMAT).reader,
    sink: (ops, context) =>
      writeEvents(ops, {
        client,
        index: alias,
        context,
        flushBytes: env.INGEST_BULK_FLUSH_BYTES,
        concurrency: env.INGEST_BULK_CONCURRENCY,
      }),
    runs: createRunStore(client, env.ES_INDEX_PREFIX),
    logger: parts.logger,
    spoolDir: env.INGEST_SPOOL_DIR,
    signal: parts.signal,
  };
}

export function createIngestJob(env: IngestEnv, opts: IngestJobOptions = {}) {
  const logger = opts.logger ?? createLogger({ name: 'ingest' });
  const providerUrl = redactUrl(env.PROVIDER_URL);

  async function runOnce(client: Client, rootSpan: Span): Promise<number> {
    const names = await withSpan('ingest.bootstrap', {}, () =>
      bootstrapIndices(client, env.ES_INDEX_PREFIX),
    );
    logger.info({ phase: 'bootstrap', alias: names.eventsAlias }, 'indices ready');
    const result = await runIngest(ingestRunDeps(client, env, { logger, signal: opts.signal }));
    await pushMetrics(env, logger, createIngestMetrics(), result);
    logSummary(logger, result, rootSpan);
    return result.ok ? 0 : 1;
  }

  /** One run; resolves to the exit code (0 succeeded, 1 failed). Never rejects. */
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
