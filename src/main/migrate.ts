/**
 * `npm run migrate`: bootstraps (as `npm run bootstrap`), then moves the events alias to the index
 * of this code's mapping version, filled from the index it points at (docs/adr/0015-*.md,
 * docs/runbook.md). The chart's bootstrap hook Job runs it before every install and upgrade; with
 * the alias on the current version already it only bootstraps. Needs `MIGRATE_PROVIDER_TIMEZONES`
 * when the old index holds events. Exit code 0 when done (or nothing to do), 1 when the migration
 * failed (the alias stays on the old index: run it again), 2 on a configuration error.
 */
import { configOrExit, migrateEnv, type MigrateEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createEsClient } from '../store/client.js';
import { migrateEvents } from '../ingest/migrate-events.js';

const logger = createLogger({ name: 'migrate' });
const env: MigrateEnv = configOrExit(migrateEnv, logger);

const client = createEsClient(env);
try {
  const result = await migrateEvents({
    client,
    prefix: env.ES_INDEX_PREFIX,
    zones: env.MIGRATE_PROVIDER_TIMEZONES,
    bootstrap: { replicas: env.ES_INDEX_REPLICAS, refreshInterval: env.ES_INDEX_REFRESH_INTERVAL },
    leaseTtlMs: env.INGEST_LEASE_TTL_MS,
    leaseWaitMs: env.MIGRATE_LEASE_WAIT_MS,
    log: (phase, fields, message) => logger.info({ phase, ...fields }, message),
  });
  logger.info(
    { phase: 'done', ...result },
    result.outcome === 'migrated'
      ? `migrated ${result.copied} documents from ${result.from.join(', ')} to ${result.to}`
      : `nothing to migrate: the events alias is on ${result.to}`,
  );
  process.exitCode = 0;
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  logger.error({ phase: 'failed', error: msg }, `migration failed: ${msg}`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => undefined);
}
