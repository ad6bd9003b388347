/**
 * `npm run ingest`: one ingest run (the CronJob's job, built by `createIngestJob`,
 * src/ingest/job.ts), then exit.
 *
 * Exit code 0 only when the feed was read to its end and every item was written; 1 when the run
 * failed (the message says why); 2 on a configuration error; 3 when another run holds the ingest
 * lease (one writer at a time: this run wrote nothing; docs/adr/0003-*.md). SIGTERM stops the run,
 * which is recorded as failed and releases the lease. One JSON log line per phase and a
 * final `summary` line. Configured by the environment (see `ingestEnv` in src/config.ts).
 */
import { configOrExit, ingestEnv } from '../config.js';
import { createIngestJob } from '../ingest/job.js';
import { createLogger } from '../observability/logger.js';

const logger = createLogger({ name: 'ingest' });
const env = configOrExit(ingestEnv, logger);

const cancel = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.warn({ phase: 'cancel', signal }, 'stopping: the run will be recorded as failed');
    cancel.abort(new Error(`received ${signal}`));
  });
}

process.exitCode = await createIngestJob(env, { logger, signal: cancel.signal }).run();
