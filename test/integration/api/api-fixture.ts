/**
 * The search API for in-process tests: the real builder (`createSearchService`, as src/main/api.ts
 * calls it) over a test index prefix, with configuration overrides; supertest over
 * `app.callback()`, or `start()` for a real listener.
 */
import { afterAll } from '@jest/globals';
import { Registry } from 'prom-client';
import supertest from 'supertest';
import { apiEnv, parseEnv } from '../../../src/config.js';
import { createSearchService } from '../../../src/api/service.js';
import { createLogger } from '../../../src/observability/logger.js';
import type { IndexNames } from '../../../src/store/indices.js';

export interface ApiFixtureOptions {
  names: IndexNames;
  /** Elasticsearch to talk to (default: ELASTICSEARCH_URL, the tests' node). */
  url?: string;
  /** Further environment variables (as strings, as a deployment sets them). */
  env?: Record<string, string>;
}

const built: Array<{ stop(): Promise<unknown> }> = [];
// Every service a test file built is stopped (poller, client) when the file is done.
afterAll(async () => {
  await Promise.all(built.splice(0).map((s) => s.stop()));
});

/** Rate limiting and load shedding are off unless `env` turns them on (tests send bursts). */
export function buildApi(opts: ApiFixtureOptions) {
  const config = parseEnv(apiEnv, {
    ELASTICSEARCH_URL: opts.url ?? process.env.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: opts.names.prefix,
    PORT: '0',
    RATE_LIMIT_ENABLED: 'false',
    SHED_LAG_MS: '0',
    ...opts.env,
  });
  const logger = createLogger({ name: 'api-test', level: process.env.LOG_LEVEL ?? 'silent' });
  const service = createSearchService(config, { logger, registry: new Registry() });
  built.push(service);
  return { ...service, config, http: supertest(service.app.callback()) };
}
