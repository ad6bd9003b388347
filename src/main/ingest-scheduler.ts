/**
 * `npm run ingest:schedule`: the local ingest schedule (`make run`; in Kubernetes the CronJob plays
 * this role), built by `createIngestScheduler` (src/ingest/scheduler.ts) every INGEST_INTERVAL
 * seconds. SIGINT/SIGTERM stop the schedule, forward the signal to a running child and exit when
 * it has.
 */
import { configOrExit, schedulerEnv } from '../config.js';
import { createIngestScheduler } from '../ingest/scheduler.js';
import { createLogger } from '../observability/logger.js';

const logger = createLogger({ name: 'ingest-scheduler' });
const env = configOrExit(schedulerEnv, logger);
const scheduler = createIngestScheduler({
  intervalSeconds: env.INGEST_INTERVAL,
  nodeFlags: env.INGEST_NODE_FLAGS,
  logger,
});
scheduler.start();

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void scheduler.stop(signal).then(() => process.exit(0)));
}
