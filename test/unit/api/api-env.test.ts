import { describe, expect, it } from '@jest/globals';
import { apiEnv, ConfigError, parseEnv } from '../../../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    parseEnv(apiEnv, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

describe('parseEnv(apiEnv)', () => {
  it('has the documented defaults, with a short Elasticsearch timeout for the API', () => {
    expect(parseEnv(apiEnv, {})).toMatchObject({
      PORT: 3000,
      ES_REQUEST_TIMEOUT_MS: 500,
      ES_INDEX_PREFIX: 'events',
      SEARCH_PAGE_SIZE: 1000,
      CACHE_MAX_ENTRIES: 1000,
      FRESHNESS_POLL_MS: 5000,
      RETRY_AFTER_SECONDS: 5,
      SHUTDOWN_DELAY_MS: 0,
      SHUTDOWN_TIMEOUT_MS: 10000,
    });
  });

  it('does not read PROVIDER_TIMEZONE: each stored event carries its own zone (ADR 0004)', () => {
    const env = parseEnv(apiEnv, { PROVIDER_TIMEZONE: 'CEST+2' });
    expect(env).not.toHaveProperty('PROVIDER_TIMEZONE');
  });

  it('reports every wrong value at once', () => {
    const issues = problems({ PORT: '70000', FRESHNESS_POLL_MS: '10', CACHE_MAX_ENTRIES: '-1' });
    expect(issues).toHaveLength(3);
    expect(issues.join('\n')).toMatch(/PORT \("70000"\)/);
    expect(issues.join('\n')).toMatch(/FRESHNESS_POLL_MS \("10"\)/);
    expect(issues.join('\n')).toMatch(/CACHE_MAX_ENTRIES \("-1"\)/);
  });

  it('checks settings that depend on each other', () => {
    expect(problems({ CACHE_MAX_BYTES: '1000', CACHE_MAX_ENTRY_BYTES: '2000' })).toEqual([
      'CACHE_MAX_ENTRY_BYTES ("2000"): must not exceed CACHE_MAX_BYTES (1000)',
    ]);
    expect(problems({ SHUTDOWN_DELAY_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' })).toEqual([
      'SHUTDOWN_DELAY_MS ("5000"): must be less than SHUTDOWN_TIMEOUT_MS (5000)',
    ]);
  });
});
