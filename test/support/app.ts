/**
 * The real Koa app (createApp, as createSearchService builds it) with the API's configuration
 * (defaults plus `env` overrides, as a deployment sets them) and only the parts a test scripts: a
 * search cache that answers as the test says, a freshness poller that is warmed or not, a shedder...
 */
import { Registry } from 'prom-client';
import { createApp, type AppParts } from '../../src/api/app.js';
import { etagOf, serializeEvents, type SearchAnswer } from '../../src/api/search/search-cache.js';
import { apiEnv, parseEnv } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { createApiMetrics } from '../../src/observability/metrics.js';

export function appWith(
  env: Record<string, string>,
  parts: Partial<AppParts> & Pick<AppParts, 'cache'>,
) {
  return createApp(parseEnv(apiEnv, env), {
    logger: createLogger({ name: 'api-test', level: 'silent' }),
    metrics: createApiMetrics(new Registry()),
    ...parts,
  });
}

/** A search cache that answers every window with no events, as from `source`. */
export function answeringNoEvents(source: SearchAnswer['source'] = 'hit'): AppParts['cache'] {
  const body = serializeEvents([]);
  return { answer: async () => ({ kind: 'buffer', body, etag: etagOf(body), source }) };
}
