/**
 * `npm run ingest`: one ingest run (the CronJob's job), then exit.
 *
 * Exit code 0 only when the feed was read to its end and every item was written; 1 when the run
 * failed (the message says why); 2 on a configuration error. One JSON log line per phase and a
 * final `summary` line. Configured by the environment (see `ingestEnv` in src/config.ts).
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { configOrExit, ingestEnv, type IngestEnv } from '../config.js';
import { httpFeedSource, redactUrl } from '../ingest/feed-client.js';
import { pushRunMetrics, recordRunMetrics } from '../ingest/metrics.js';
import { runIngest } from '../ingest/run.js';
import { createLogger } from '../observability/logger.js';
import { createIngestMetrics } from '../observability/metrics.js';
import { flushSpans, withSpan } from '../observability/spans.js';
import { createEsClient } from '../store/client.js';
import { writeEvents } from '../store/event-writer.js';
import { bootstrapIndices } from '../store/indices.js';
import { createRunStore } from '../store/runs.js';

const logger = createLogger({ name: 'ingest' });

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const env: IngestEnv = configOrExit(ingestEnv, logger);
const providerUrl = redactUrl(env.PROVIDER_URL);
logger.info(
  {
    phase: 'config',
    provider: env.PROVIDER_NAME,
    provider_url: providerUrl,
    elasticsearch_url: redactUrl(env.ELASTICSEARCH_URL),
    index_prefix: env.ES_INDEX_PREFIX,
  },
  'configuration read',
);

const cancel = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.warn({ phase: 'cancel', signal }, 'stopping: the run will be recorded as failed');
    cancel.abort(new Error(`received ${signal}`));
  });
}

const client = createEsClient(env);
const metrics = createIngestMetrics();
let exitCode = 1;
await withSpan('ingest.run', { 'event_search.provider': env.PROVIDER_NAME }, async (rootSpan) => {
  try {
    const names = await withSpan('ingest.bootstrap', {}, () =>
      bootstrapIndices(client, env.ES_INDEX_PREFIX),
    );
    logger.info({ phase: 'bootstrap', alias: names.eventsAlias }, 'indices ready');

    const result = await runIngest({
      provider: env.PROVIDER_NAME,
      providerUrl,
      source: httpFeedSource({
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
      }),
      sink: (ops, context) =>
        writeEvents(ops, {
          client,
          index: names.eventsAlias,
          context,
          flushBytes: env.INGEST_BULK_FLUSH_BYTES,
          concurrency: env.INGEST_BULK_CONCURRENCY,
        }),
      runs: createRunStore(client, env.ES_INDEX_PREFIX),
      logger,
      spoolDir: env.INGEST_SPOOL_DIR,
      signal: cancel.signal,
    });
    const { run } = result;

    recordRunMetrics(metrics, run);
    if (env.PUSHGATEWAY_URL) {
      try {
        await pushRunMetrics(metrics, run, { url: env.PUSHGATEWAY_URL, job: env.PUSHGATEWAY_JOB });
        logger.info(
          { phase: 'metrics_pushed', pushgateway: redactUrl(env.PUSHGATEWAY_URL) },
          'metrics pushed',
        );
      } catch (err) {
        logger.warn(
          {
            phase: 'metrics_pushed',
            pushgateway: redactUrl(env.PUSHGATEWAY_URL),
            err: message(err),
          },
          'could not push metrics to the Pushgateway (the run itself is unaffected)',
        );
      }
    }

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
      exitCode = 0;
    } else {
      rootSpan.setStatus({ code: SpanStatusCode.ERROR, message: run.error ?? 'ingest run failed' });
      logger.error(summary, `ingest run failed: ${run.error ?? 'unknown error'}`);
    }
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
process.exitCode = exitCode;
