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
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configOrExit, simEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createProviderSim } from '../sim/server.js';

const logger = createLogger({ name: 'provider-sim' });

const { values } = parseArgs({
  options: {
    mode: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'base-events': { type: 'string' },
    zones: { type: 'string' },
    seed: { type: 'string' },
    'delay-ms': { type: 'string' },
  },
});
const fromFlags: Record<string, string | undefined> = {
  SIM_MODE: values.mode,
  PORT: values.port,
  HOST: values.host,
  SIM_BASE_EVENTS: values['base-events'],
  SIM_ZONES: values.zones,
  SIM_SEED: values.seed,
  SIM_DELAY_MS: values['delay-ms'],
};

const config = configOrExit(simEnv, logger, {
  ...process.env,
  ...Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined)),
});

// dist/main/provider-sim.js -> <package root>/test/fixtures
const defaultSamples = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const sim = await createProviderSim({
  mode: config.SIM_MODE,
  samplesDir: config.SIM_SAMPLES_DIR ?? defaultSamples,
  baseEvents: config.SIM_BASE_EVENTS,
  zonesPerEvent: config.SIM_ZONES,
  seed: config.SIM_SEED,
  delayMs: config.SIM_DELAY_MS,
  logger,
});
const port = await sim.listen(config.PORT, config.HOST);
logger.info(
  { port, host: config.HOST, mode: config.SIM_MODE, url: `http://${config.HOST}:${port}/feed` },
  'provider simulator listening',
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'provider simulator stopping');
    void sim.close().then(() => process.exit(0));
  });
}
