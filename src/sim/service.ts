/**
 * The provider simulator as a service, from its configuration (`simEnv`, where command-line flags
 * override the environment): the builder src/main/provider-sim.ts calls.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { SimEnv } from '../config.js';
import type { Logger } from '../observability/logger.js';
import { createProviderSim } from './server.js';

/** The environment with `--mode`, `--port`... applied over it (flags win). */
export function simEnvWithFlags(args: string[], env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { values } = parseArgs({
    args,
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
  return {
    ...env,
    ...Object.fromEntries(Object.entries(fromFlags).filter(([, v]) => v !== undefined)),
  };
}

/** Builds the simulator and listens on HOST:PORT; `close` stops it. */
export async function startProviderSim(config: SimEnv, logger: Logger) {
  // dist/sim/service.js -> <package root>/test/fixtures
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
  const url = `http://${config.HOST}:${port}/feed`;
  logger.info(
    { port, host: config.HOST, mode: config.SIM_MODE, url },
    'provider simulator listening',
  );
  return { port, url, close: () => sim.close() };
}
