/**
 * `npm run bootstrap`: creates or updates the index templates, the versioned events index with its
 * alias, and the runs index, with ES_INDEX_REPLICAS and ES_INDEX_REFRESH_INTERVAL applied to the
 * templates and the existing indices (the Helm pre-install/pre-upgrade hook Job). Idempotent; the
 * only process that writes templates or settings (the ingester checks, docs/adr/0012-*.md).
 * Exit code 0 when done, 1 when Elasticsearch refused or was unreachable, 2 on a configuration error.
 */
import { bootstrapEnv, configOrExit, type BootstrapEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createEsClient } from '../store/client.js';
import { bootstrapIndices } from '../store/indices.js';

const logger = createLogger({ name: 'bootstrap' });

const env: BootstrapEnv = configOrExit(bootstrapEnv, logger);

const client = createEsClient(env);
try {
  const settings = {
    replicas: env.ES_INDEX_REPLICAS,
    refreshInterval: env.ES_INDEX_REFRESH_INTERVAL,
  };
  const names = await bootstrapIndices(client, env.ES_INDEX_PREFIX, settings);
  logger.info(
    { phase: 'bootstrap', ...names, ...settings },
    'indices, templates, settings and alias are in place',
  );
  process.exitCode = 0;
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  logger.error({ phase: 'bootstrap', error: msg }, `bootstrap failed: ${msg}`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => undefined);
}
