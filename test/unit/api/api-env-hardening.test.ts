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

describe('parseEnv(apiEnv): overload and hardening settings', () => {
  it('has the documented defaults', () => {
    expect(parseEnv(apiEnv, {})).toMatchObject({
      RATE_LIMIT_ENABLED: true,
      RATE_LIMIT_MAX: 6000,
      RATE_LIMIT_WINDOW_MS: 60000,
      PROXY_HOPS: 0,
      SHED_LAG_MS: 70,
      SHED_SAMPLE_MS: 100,
      SHED_RETRY_AFTER_SECONDS: 1,
      HTTP_REQUEST_TIMEOUT_MS: 15000,
      HTTP_HEADERS_TIMEOUT_MS: 10000,
      HTTP_KEEP_ALIVE_TIMEOUT_MS: 65000,
      HTTP_MAX_HEADER_BYTES: 16384,
      HTTP_MAX_URL_LENGTH: 2048,
    });
  });

  it('reads the switches and refuses anything but true or false', () => {
    expect(parseEnv(apiEnv, { RATE_LIMIT_ENABLED: 'false' }).RATE_LIMIT_ENABLED).toBe(false);
    expect(parseEnv(apiEnv, { SHED_LAG_MS: '0' }).SHED_LAG_MS).toBe(0);
    expect(problems({ RATE_LIMIT_ENABLED: 'yes' })).toEqual([
      expect.stringMatching(/^RATE_LIMIT_ENABLED \("yes"\): .*'true' \| 'false'/),
    ]);
    expect(problems({ RATE_LIMIT_MAX: '0', SHED_SAMPLE_MS: '5', PROXY_HOPS: '-1' })).toHaveLength(
      3,
    );
  });

  it('checks the HTTP bounds against each other', () => {
    expect(
      problems({ HTTP_HEADERS_TIMEOUT_MS: '20000', HTTP_REQUEST_TIMEOUT_MS: '10000' }),
    ).toEqual([
      'HTTP_HEADERS_TIMEOUT_MS ("20000"): must not exceed HTTP_REQUEST_TIMEOUT_MS (10000)',
    ]);
    expect(problems({ HTTP_MAX_URL_LENGTH: '16384' })).toEqual([
      'HTTP_MAX_URL_LENGTH ("16384"): must be less than HTTP_MAX_HEADER_BYTES (16384)',
    ]);
  });
});
