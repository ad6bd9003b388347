/**
 * Local stand-in for the Kubernetes CronJob: runs the ingest entry point as a child process every
 * `intervalSeconds`, the first run at once. Like `concurrencyPolicy: Forbid`, a run that is still
 * going when the next is due makes that tick skip. The child inherits the environment, so
 * PROVIDER_URL, ELASTICSEARCH_URL, ES_INDEX_PREFIX... are configured as for `npm run ingest`.
 */
import { EXIT_LEASE_HELD } from './lease.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../observability/logger.js';

export interface IngestSchedulerOptions {
  intervalSeconds: number;
  logger: Logger;
  /**
   * Node flags of each run after this process's own (INGEST_NODE_FLAGS: by default the V8 heap
   * bounds the chart's CronJob runs with, `ingester.heap`), so a local run behaves like a deployed one.
   */
  nodeFlags?: readonly string[];
  /** The script each run executes (default the ingest entry point; tests give another). */
  entry?: string;
}

export function createIngestScheduler(opts: IngestSchedulerOptions) {
  const { logger } = opts;
  const ingestEntry = opts.entry ?? fileURLToPath(new URL('../main/ingest.js', import.meta.url));
  // Same flags as this process (e.g. --import for OpenTelemetry), so the child is traced alike.
  const nodeArgs = [...process.execArgv, ...(opts.nodeFlags ?? []), ingestEntry];
  let child: ChildProcess | null = null;
  let stopping = false;
  let runs = 0;
  let timer: NodeJS.Timeout | undefined;
  let onIdle: () => void = () => undefined;

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
      else if (code === EXIT_LEASE_HELD) {
        logger.warn(fields, 'ingest run skipped: another run holds the ingest lease');
      } else logger.error(fields, 'ingest run failed');
      if (stopping) onIdle();
    });
  }

  return {
    start(): void {
      timer = setInterval(tick, opts.intervalSeconds * 1000);
      tick();
      logger.info({ interval_seconds: opts.intervalSeconds }, 'ingest scheduler started');
    },
    /** Stops the schedule; forwards `signal` to a running child; resolves once none runs. */
    stop(signal: NodeJS.Signals): Promise<void> {
      stopping = true;
      clearInterval(timer);
      logger.info({ signal }, 'ingest scheduler stopping');
      if (!child) return Promise.resolve();
      const idle = new Promise<void>((resolve) => (onIdle = resolve));
      child.kill(signal);
      return idle;
    },
  };
}
