/**
 * `npm start`: the search API as a process (built by `createSearchService`, src/api/service.ts).
 *
 * Configuration comes from the environment (see `apiEnv` in src/config.ts); a wrong value stops the
 * process at once with a message naming the variable. SIGTERM/SIGINT shut it down gracefully within
 * SHUTDOWN_TIMEOUT_MS; a second signal exits at once.
 */
import { apiEnv, configOrExit } from '../config.js';
import { createSearchService } from '../api/service.js';
import { createLogger } from '../observability/logger.js';

const logger = createLogger({ name: 'api' });
const config = configOrExit(apiEnv, logger);
const service = createSearchService(config, { logger });
await service.start();

let stopping = false;
async function stop(signal: NodeJS.Signals): Promise<void> {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  // Whatever happens below, the process is gone within the bound (plus a little for the logs).
  const bound = () => (logger.error('shutdown did not finish in time; exiting'), process.exit(1));
  setTimeout(bound, config.SHUTDOWN_TIMEOUT_MS + 1_000).unref();
  const result = await service.stop();
  logger.info({ ...result }, 'stopped');
  logger.flush();
  process.exit(result.drained ? 0 : 1);
}
process.on('SIGTERM', (signal) => void stop(signal));
process.on('SIGINT', (signal) => void stop(signal));
