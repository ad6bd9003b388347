/**
 * Process configuration, read from environment variables and validated at start-up.
 *
 * Each process (API, ingester, simulator) picks the sections it needs; a wrong value stops the
 * process with a message that names the variable (see `ConfigError`).
 */
import { z } from 'zod';
import { SIM_MODES } from './sim/modes.js';
import { isKnownTimeZone } from './domain/local-time.js';
import { FEED_FORMATS } from './ingest/formats/names.js';
import { redactUrl } from './ingest/feed-client.js';

/** Raised when an environment variable holds a value the process cannot run with. */
export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** An absolute http(s) URL. */
export const httpUrl = z.string().refine((value) => {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}, 'must be an absolute http(s) URL');

/** Settings every process that talks to Elasticsearch needs. */
export const storeEnv = z.object({
  ELASTICSEARCH_URL: httpUrl.default('http://127.0.0.1:9200'),
  ES_INDEX_PREFIX: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]*$/,
      'must be lower-case letters, digits, "-" or "_", starting with a letter or digit',
    )
    .default('events'),
  ES_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(5_000),
  ES_API_KEY: z.string().min(1).optional(),
  ES_USERNAME: z.string().min(1).optional(),
  ES_PASSWORD: z.string().min(1).optional(),
  ES_CA_FILE: z.string().min(1).optional(),
});
export type StoreEnv = z.infer<typeof storeEnv>;

/**
 * The bootstrap (`npm run bootstrap`, the chart's hook Job): the store settings plus the index
 * settings it applies to the templates and to the existing indices (docs/adr/0012-*.md). Only the
 * bootstrap reads them: the ingester never touches templates or settings.
 */
export const bootstrapEnv = storeEnv.extend({
  /** Replica shards of the events and runs indices (production: 1 or more; one node: 0). */
  ES_INDEX_REPLICAS: z.coerce.number().int().min(0).max(10).default(0),
  /** How soon new writes become searchable: an Elasticsearch time such as 1s or 30s, or -1. */
  ES_INDEX_REFRESH_INTERVAL: z
    .string()
    .regex(/^(-1|[1-9][0-9]*(ms|s|m|h))$/, 'must be an Elasticsearch time such as 1s, 500ms or -1')
    .default('1s'),
});
export type BootstrapEnv = z.infer<typeof bootstrapEnv>;

/**
 * The events migration (`npm run migrate`, the chart's bootstrap hook Job; docs/adr/0015-*.md): the
 * bootstrap's settings, each provider's zone, and how long to wait for a running ingest.
 */
export const migrateEnv = bootstrapEnv.extend({
  /**
   * `name=Zone` pairs, comma-separated (`primary=Europe/Madrid,second=America/New_York`): the zone
   * of every provider whose events the old index holds (earlier versions stored none).
   */
  MIGRATE_PROVIDER_TIMEZONES: z
    .string()
    .default('')
    .transform((value, ctx) => {
      const zones = new Map<string, string>();
      for (const pair of value
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const [name = '', zone = ''] = pair.split('=').map((p) => p.trim());
        if (!/^[a-z0-9][a-z0-9_-]{0,63}$/.test(name) || !isKnownTimeZone(zone)) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `${JSON.stringify(pair)} is not name=Zone (a provider name and an IANA time-zone name such as Europe/Madrid)`,
          });
        } else if (zones.has(name) && zones.get(name) !== zone) {
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            message: `provider ${name} is given two zones`,
          });
        } else zones.set(name, zone);
      }
      return zones;
    }),
  /** How long to wait for an ingest run that holds a provider's lease. */
  MIGRATE_LEASE_WAIT_MS: z.coerce.number().int().min(0).default(240_000),
  /** TTL of the leases the migration holds (as the ingester's). */
  INGEST_LEASE_TTL_MS: z.coerce.number().int().min(1_000).default(60_000),
});
export type MigrateEnv = z.infer<typeof migrateEnv>;

/**
 * Validates `env` against `schema`. Every problem is reported at once, each naming its variable.
 */
export function parseEnv<S extends z.ZodTypeAny>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => {
      const name = issue.path.join('.');
      return `${name} (${shownValue(name, env[name])}): ${issue.message}`;
    }),
  );
}

/** Variables whose value is a secret: an error names them but never shows what they hold. */
const SECRET_VARIABLES: ReadonlySet<string> = new Set(['ES_API_KEY', 'ES_PASSWORD']);
/** Variables holding a URL that may embed a credential (userinfo) or a token (query). */
const URL_VARIABLES: ReadonlySet<string> = new Set([
  'ELASTICSEARCH_URL',
  'PROVIDER_URL',
  'PUSHGATEWAY_URL',
]);

/**
 * How a bad value is shown in a configuration error: as it is, except secrets (never shown) and
 * URLs (shown without user, password or query; see `redactUrl`).
 */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return 'unset';
  if (SECRET_VARIABLES.has(name)) return 'value hidden';
  if (URL_VARIABLES.has(name)) return JSON.stringify(redactUrl(value));
  return JSON.stringify(value);
}

/** The provider simulator (`npm run provider-sim`). Flags `--mode`, `--port`... override these. */
export const simEnv = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  SIM_MODE: z.enum(SIM_MODES).default('samples'),
  SIM_SAMPLES_DIR: z.string().min(1).optional(),
  SIM_BASE_EVENTS: z.coerce.number().int().positive().default(1_000),
  SIM_ZONES: z.coerce.number().int().positive().default(10),
  SIM_SEED: z.coerce.number().int().default(42),
  SIM_DELAY_MS: z.coerce.number().int().min(0).default(5_000),
});
export type SimEnv = z.infer<typeof simEnv>;

/** The local ingest scheduler (`make run`; in Kubernetes the CronJob plays this role). */
export const schedulerEnv = z.object({
  INGEST_INTERVAL: z.coerce.number().positive().default(60),
  /**
   * Node flags of every scheduled run, space-separated: the chart's `ingester.heap` bounds by
   * default (a test keeps them equal), empty for V8's own defaults.
   */
  INGEST_NODE_FLAGS: z
    .string()
    .default('--max-semi-space-size=4 --max-old-space-size=128')
    .transform((flags) => flags.split(' ').filter(Boolean)),
});

/** An IANA time-zone name (the zone of a provider's wall-clock times). */
const timeZone = z
  .string()
  .default('UTC')
  .refine(isKnownTimeZone, 'must be an IANA time-zone name such as UTC or Europe/Madrid');

/** A positive integer read from the environment (milliseconds, bytes, counts). */
const positiveInt = z.coerce.number().int().positive();

/** An optional value where an empty string (a blank Helm value) means unset. */
function blankAsUnset<T extends z.ZodTypeAny>(schema: T) {
  return z.preprocess((v) => (v === '' ? undefined : v), schema.optional());
}

/**
 * Settings of the ingester (`npm run ingest`, the CronJob): the store settings plus the provider's
 * feed, retry policy, bulk writing and the optional Pushgateway.
 */
export const ingestEnv = storeEnv.extend({
  PROVIDER_URL: httpUrl,
  PROVIDER_NAME: z
    .string()
    .regex(
      /^[a-z0-9][a-z0-9_-]{0,63}$/,
      'must be 1-64 lower-case letters, digits, "-" or "_" (it is part of every event id)',
    )
    .default('primary'),
  /** The feed's format: which adapter reads it (src/ingest/formats, docs/adding-a-provider.md). */
  PROVIDER_FORMAT: z.enum(FEED_FORMATS).default('xml'),
  /** IANA zone of this provider's wall-clock times (each provider has its own). */
  PROVIDER_TIMEZONE: timeZone,
  /** Until the response headers arrive (connect included). */
  PROVIDER_TIMEOUT_MS: positiveInt.default(10_000),
  /** Longest silence allowed while the body is being read. */
  PROVIDER_IDLE_TIMEOUT_MS: positiveInt.default(30_000),
  PROVIDER_RETRIES: z.coerce.number().int().min(0).max(20).default(3),
  PROVIDER_RETRY_MIN_DELAY_MS: positiveInt.default(500),
  /** Cap of the backoff and of the provider's Retry-After. */
  PROVIDER_RETRY_MAX_DELAY_MS: positiveInt.default(30_000),
  /** A feed larger than this is refused (protects the spool disk from a runaway body). */
  PROVIDER_MAX_FEED_BYTES: positiveInt.default(2 * 1024 * 1024 * 1024),
  INGEST_BULK_FLUSH_BYTES: positiveInt.default(2_000_000),
  INGEST_BULK_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * The format guard: a run whose share of rejected events is above this fails before writing
   * anything (docs/adr/0002-*.md); 1 disables it.
   */
  INGEST_MAX_REJECTED_RATIO: z.coerce.number().min(0).max(1).default(0.5),
  /**
   * Lifetime of the ingest lease (one writer at a time, docs/adr/0003-*.md) unless renewed; the
   * holder renews it every third. A crashed run's lease expires after this.
   */
  INGEST_LEASE_TTL_MS: z.coerce.number().int().min(1_000).default(60_000),
  /** Interval of the run's `progress` log lines. */
  INGEST_PROGRESS_MS: z.coerce.number().int().min(100).default(5_000),
  /**
   * Skip the parse and the writes of a feed whose bytes equal the previous run's, when that run
   * succeeded the same UTC day ("true" or "false"; docs/adr/0016-*.md).
   */
  INGEST_SKIP_UNCHANGED_FEED: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
  /** Where the feed is staged while it is validated (default: the OS temp directory). */
  INGEST_SPOOL_DIR: blankAsUnset(z.string().min(1)),
  PUSHGATEWAY_URL: blankAsUnset(httpUrl),
  PUSHGATEWAY_JOB: z.string().min(1).default('event-search-ingest'),
});
export type IngestEnv = z.infer<typeof ingestEnv>;

/**
 * Settings of the search API (`npm start`): the store settings plus the HTTP server, the search
 * cache and shutdown (no time zone: each event carries its own, docs/adr/0004-*.md). The API's Elasticsearch timeout
 * defaults to 500 ms so that an outage gives a fast 503 instead of a hanging request.
 */
export const apiEnv = storeEnv
  .extend({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    ES_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(500),
    /** Hits per Elasticsearch page (search_after); bounds the memory of one page. */
    SEARCH_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(1_000),
    /**
     * How long the point in time of a streamed answer stays open between two pages (renewed by
     * every page). A reader slower than this gets an aborted connection, never a truncated 200.
     */
    SEARCH_PIT_KEEP_ALIVE_MS: z.coerce.number().int().min(1_000).default(30_000),
    /** Windows kept in the in-process cache; 0 disables it (queries are still coalesced). */
    CACHE_MAX_ENTRIES: z.coerce.number().int().min(0).default(1_000),
    /** Total bytes of cached answers. */
    CACHE_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(256 * 1024 * 1024),
    /** Answers larger than this are streamed and not cached. */
    CACHE_MAX_ENTRY_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .default(16 * 1024 * 1024),
    /** How often the run records are polled (cache invalidation); also the answers' max-age. */
    FRESHNESS_POLL_MS: z.coerce.number().int().min(100).default(5_000),
    /** Retry-After (seconds) of a 503 when Elasticsearch is unavailable. */
    RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).default(5),
    /** Between failing readiness and closing the listener on SIGTERM. */
    SHUTDOWN_DELAY_MS: z.coerce.number().int().min(0).default(0),
    /** Bound on the whole shutdown; still-open connections are cut then. */
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    /*
     * Overload and hardening (docs/adr/0009-overload-and-hardening.md, docs/reliability.md).
     */
    /** Per-client rate limiting ("true" or "false"); each replica counts on its own. */
    RATE_LIMIT_ENABLED: z
      .enum(['true', 'false'])
      .default('true')
      .transform((v) => v === 'true'),
    /** Requests one client (IP) may make per window on one replica before it gets 429s. */
    RATE_LIMIT_MAX: z.coerce.number().int().positive().default(6_000),
    RATE_LIMIT_WINDOW_MS: z.coerce.number().int().min(1_000).default(60_000),
    /**
     * Reverse proxies in front of the API that append the client to X-Forwarded-For (the ingress):
     * the client is the address that many entries from the right. 0: use the socket's address.
     */
    PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    /**
     * Bulkhead (docs/adr/0012-*.md): Elasticsearch queries (cache misses) one replica runs at once;
     * a miss beyond it gets a fast 503 with Retry-After (cached windows still answer).
     */
    ES_MAX_CONCURRENT_QUERIES: z.coerce.number().int().min(1).max(1_000).default(16),
    /**
     * Misses that may wait for a query slot when every one is taken (0: none, a miss beyond the
     * bound is refused at once). Beyond it, a fast 503 (docs/adr/0017-*.md).
     */
    ES_QUERY_QUEUE: z.coerce.number().int().min(0).max(10_000).default(64),
    /** Longest a miss waits in that line for a slot before it gets its 503. */
    ES_QUERY_QUEUE_WAIT_MS: z.coerce.number().int().min(1).max(60_000).default(500),
    /**
     * Most cache misses whose first search goes to Elasticsearch in one `_msearch` (the misses asked
     * in one turn of the event loop; never more than ES_MAX_CONCURRENT_QUERIES run at once anyway);
     * 1: every search alone. Unset: a third of ES_MAX_CONCURRENT_QUERIES, rounded up, so that about
     * three batches are in flight and Elasticsearch has the next one while the API answers the
     * last (docs/adr/0017-*.md, fifth and seventh addenda).
     */
    ES_MSEARCH_MAX_BATCH: z.coerce.number().int().min(1).max(1_000).optional(),
    /** Points in time (multi-page answers) one replica keeps open at once; beyond it, a fast 503. */
    ES_MAX_OPEN_PITS: z.coerce.number().int().min(1).max(1_000).default(4),
    ACCESS_LOG: z.enum(['all', 'errors']).default('all'),
    ACCESS_LOG_SLOW_MS: z.coerce.number().int().min(0).default(250),
    /** Event-loop lag (ms) above which /search answers a fast 503 (load shedding); 0 disables. */
    SHED_LAG_MS: z.coerce.number().int().min(0).default(70),
    /** How often the event-loop lag is sampled. */
    SHED_SAMPLE_MS: z.coerce.number().int().min(10).max(1_000).default(100),
    /** Retry-After (seconds) of a shed request. */
    SHED_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).default(1),
    /** Longest a client may take to send a whole request (node's server.requestTimeout). */
    HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
    /** Longest a client may take to send the request headers (slowloris bound). */
    HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    /** Idle keep-alive connections are closed after this (longer than the ingress's upstream one). */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().positive().default(65_000),
    /** Request line plus headers larger than this get 431 (node's maxHeaderSize). */
    HTTP_MAX_HEADER_BYTES: z.coerce.number().int().min(1_024).max(1_048_576).default(16_384),
    /** A request URL (path and query) longer than this gets 414. */
    HTTP_MAX_URL_LENGTH: z.coerce.number().int().min(64).default(2_048),
  })
  .superRefine((env, ctx) => {
    if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['HTTP_HEADERS_TIMEOUT_MS'],
        message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS})`,
      });
    }
    if (env.HTTP_MAX_URL_LENGTH >= env.HTTP_MAX_HEADER_BYTES) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['HTTP_MAX_URL_LENGTH'],
        message: `must be less than HTTP_MAX_HEADER_BYTES (${env.HTTP_MAX_HEADER_BYTES})`,
      });
    }
    if (env.CACHE_MAX_ENTRY_BYTES > env.CACHE_MAX_BYTES) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['CACHE_MAX_ENTRY_BYTES'],
        message: `must not exceed CACHE_MAX_BYTES (${env.CACHE_MAX_BYTES})`,
      });
    }
    if (env.SHUTDOWN_DELAY_MS >= env.SHUTDOWN_TIMEOUT_MS) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['SHUTDOWN_DELAY_MS'],
        message: `must be less than SHUTDOWN_TIMEOUT_MS (${env.SHUTDOWN_TIMEOUT_MS})`,
      });
    }
  });
export type ApiEnv = z.infer<typeof apiEnv>;

/** What `configOrExit` needs of a logger (pino's, in the processes). */
export interface FatalLogger {
  fatal(fields: object, message: string): void;
}

/**
 * For entry points: the validated configuration, or, when it is wrong, one fatal log line naming
 * every bad variable and exit code 2 (the process has not started anything yet).
 */
export function configOrExit<S extends z.ZodTypeAny>(
  schema: S,
  logger: FatalLogger,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  try {
    return parseEnv(schema, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal({ phase: 'config', issues: err.issues }, err.message);
    process.exit(2);
  }
}
