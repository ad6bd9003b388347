/**
 * `npm run retire-provider -- <name> [--yes]`: deletes a provider's events and run records
 * (docs/adr/0014-many-providers.md). Without `--yes` it only counts them and says what it would
 * delete. Needs the store settings (ELASTICSEARCH_URL, ES_INDEX_PREFIX, a credential that may
 * delete in the events indices and the runs index: the ingester's).
 * Exit code 0 when done, 1 when Elasticsearch refused or was unreachable, 2 on a usage or
 * configuration error.
 */
import { parseArgs } from 'node:util';
import { configOrExit, ingestEnv, storeEnv, type StoreEnv } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { createEsClient } from '../store/client.js';
import { retireProvider } from '../ingest/retire-provider.js';

const logger = createLogger({ name: 'retire-provider' });
const env: StoreEnv = configOrExit(storeEnv, logger);
const { values, positionals } = parseArgs({
  options: { yes: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const provider = positionals[0] ?? '';
if (positionals.length !== 1 || !ingestEnv.shape.PROVIDER_NAME.safeParse(provider).success) {
  logger.fatal(
    { phase: 'config', args: positionals },
    'usage: retire-provider <provider name> [--yes] (the name as PROVIDER_NAME spells it)',
  );
  process.exit(2);
}

const client = createEsClient(env);
try {
  const counts = await retireProvider(client, env.ES_INDEX_PREFIX, provider, {
    dryRun: !values.yes,
  });
  if (values.yes) {
    logger.info({ phase: 'retired', provider, ...counts }, `provider ${provider} retired`);
  } else {
    logger.info(
      { phase: 'dry_run', provider, ...counts },
      `would delete ${counts.events} events and ${counts.runs} run records of ${provider}; run again with --yes`,
    );
  }
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  logger.error({ phase: 'retired', provider, error: msg }, `retiring ${provider} failed: ${msg}`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => undefined);
}
