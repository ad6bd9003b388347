/**
 * `npm run rezone-provider -- <name> <IANA zone> [--yes]`: after a provider's PROVIDER_TIMEZONE was
 * corrected, recomputes the zone and instants of every event stored for it, those its feed no
 * longer carries included (src/ingest/rezone.ts, docs/adr/0015-events-migration.md). Without
 * `--yes` it only counts what would change. Needs the store settings (ELASTICSEARCH_URL,
 * ES_INDEX_PREFIX, the ingester's credential: it writes events, the lease and a run record).
 * Exit code 0 when done, 1 when Elasticsearch refused or was unreachable, 2 on a usage or
 * configuration error, 3 when a run of the provider holds its ingest lease (try again after it).
 */
import { parseArgs } from 'node:util';
import { configOrExit, ingestEnv, storeEnv, type StoreEnv } from '../config.js';
import { isKnownTimeZone } from '../domain/local-time.js';
import { EXIT_LEASE_HELD, LeaseHeldError } from '../ingest/lease.js';
import { rezoneProvider } from '../ingest/rezone.js';
import { createLogger } from '../observability/logger.js';
import { createEsClient } from '../store/client.js';

const logger = createLogger({ name: 'rezone-provider' });
const env: StoreEnv = configOrExit(storeEnv, logger);
const { values, positionals } = parseArgs({
  options: { yes: { type: 'boolean', default: false } },
  allowPositionals: true,
});
const [provider = '', zone = ''] = positionals;
if (
  positionals.length !== 2 ||
  !ingestEnv.shape.PROVIDER_NAME.safeParse(provider).success ||
  !isKnownTimeZone(zone)
) {
  logger.fatal(
    { phase: 'config', args: positionals },
    'usage: rezone-provider <provider name> <IANA time zone, e.g. Europe/Madrid> [--yes] (the name as PROVIDER_NAME spells it, the zone as its corrected PROVIDER_TIMEZONE)',
  );
  process.exit(2);
}

const client = createEsClient(env);
try {
  const result = await rezoneProvider({
    client,
    prefix: env.ES_INDEX_PREFIX,
    provider,
    zone,
    dryRun: !values.yes,
  });
  if (values.yes) {
    logger.info(
      { phase: 'rezoned', provider, zone, ...result },
      `provider ${provider}: ${result.changed} of ${result.examined} events now in ${zone}`,
    );
  } else {
    logger.info(
      { phase: 'dry_run', provider, zone, ...result },
      `would rewrite ${result.changed} of ${result.examined} events of ${provider} in ${zone}; run again with --yes`,
    );
  }
} catch (err) {
  const msg = err instanceof Error ? err.message : String(err);
  logger.error(
    { phase: 'rezoned', provider, zone, error: msg },
    `re-zoning ${provider} failed: ${msg}`,
  );
  process.exitCode = err instanceof LeaseHeldError ? EXIT_LEASE_HELD : 1;
} finally {
  await client.close().catch(() => undefined);
}
