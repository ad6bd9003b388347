/**
 * Local stand-in for the Kubernetes CronJob: runs the ingest entry point as a child process every
 * `INGEST_INTERVAL` seconds, the first run at once. Like `concurrencyPolicy: Forbid`, a run that is
 * still going when the next is due makes that tick skip. The child inherits the environment, so
 * PROVIDER_URL, ELASTICSEARCH_URL, ES_INDEX_PREFIX... are configured as for `npm run ingest`.
 *
 * SIGINT/SIGTERM stop the schedule, forward the signal to a running child and exit when it has.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { configOrExit, schedulerEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';

const logger = createLogger({ name: 'ingest-scheduler' });
const intervalSeconds = configOrExit(schedulerEnv, logger).INGEST_INTERVAL;

const ingestEntry = fileURLToPath(new URL('./ingest.js', import.meta.url));
// Same flags as this process (e.g. --import for OpenTelemetry), so the child is traced alike.
const nodeArgs = [...process.execArgv, ingestEntry];

let child: ChildProcess | null = null;
let stopping = false;
let runs = 0;

function tick(): void {
  if (stopping) return;
  if (child) {
    logger.warn('previous ingest run still going; skipping this tick');
    return;
  }
  runs += 1;
  const run = runs;
  const started = Date.now();
  logger.info({ run }, 'starting ingest run');
  child = spawn(process.execPath, nodeArgs, { stdio: 'inherit', env: process.env });
  child.once('exit', (code, signal) => {
    child = null;
    const fields = { run, code, signal, duration_ms: Date.now() - started };
    if (code === 0) logger.info(fields, 'ingest run finished');
    else logger.error(fields, 'ingest run failed');
    if (stopping) process.exit(0);
  });
}

const timer = setInterval(tick, intervalSeconds * 1000);
tick();
logger.info({ interval_seconds: intervalSeconds }, 'ingest scheduler started');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopping = true;
    clearInterval(timer);
    logger.info({ signal }, 'ingest scheduler stopping');
    if (child) child.kill(signal);
    else process.exit(0);
  });
}
