/**
 * `npm run bootstrap`: creates or updates the index templates, the versioned events index with its
 * alias, and the runs index (the Helm pre-install/pre-upgrade hook Job). Idempotent.
 * Exit code 0 when done, 1 when Elasticsearch refused or was unreachable, 2 on a configuration error.
 */
import { configOrExit, storeEnv, type StoreEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createEsClient } from '../store/client.js';
import { bootstrapIndices } from '../store/indices.js';

const logger = createLogger({ name: 'bootstrap' });

const env: StoreEnv = configOrExit(storeEnv, logger);

const client = createEsClient(env);
try {
  const names = await bootstrapIndices(client, env.ES_INDEX_PREFIX);
  logger.info({ phase: 'bootstrap', ...names }, 'indices, templates and alias are in place');
  process.exitCode = 0;
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  logger.error({ phase: 'bootstrap', error: msg }, `bootstrap failed: ${msg}`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => undefined);
}
