/**
 * Process configuration, read from environment variables and validated at start-up.
 *
 * Each process (API, ingester, simulator) picks the sections it needs; a wrong value stops the
 * process with a message that names the variable (see `ConfigError`).
 */
import { z } from 'zod';

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
      const value = env[name];
      const shown = value === undefined ? 'unset' : JSON.stringify(value);
      return `${name} (${shown}): ${issue.message}`;
    }),
  );
}
