/**
 * `npm run provider-sim`: the provider simulator as a process.
 *
 *   node dist/main/provider-sim.js [--mode samples|generated|slow|error|unavailable|truncated|
 *                                   malformed|html|empty|drop] [--port 8080] [--base-events N]
 *                                  [--zones M] [--seed S] [--delay-ms D]
 *
 * Flags override the environment (PORT, HOST, SIM_MODE, SIM_BASE_EVENTS, SIM_ZONES, SIM_SEED,
 * SIM_DELAY_MS, SIM_SAMPLES_DIR).
 */
import { configOrExit, simEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { simEnvWithFlags, startProviderSim } from '../sim/service.js';

const logger = createLogger({ name: 'provider-sim' });
const config = configOrExit(simEnv, logger, simEnvWithFlags(process.argv.slice(2), process.env));
const sim = await startProviderSim(config, logger);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'provider simulator stopping');
    void sim.close().then(() => process.exit(0));
  });
}
