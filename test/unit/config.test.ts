import { describe, expect, it } from '@jest/globals';
import { ConfigError, parseEnv, storeEnv } from '../../src/config.js';

describe('parseEnv(storeEnv)', () => {
  it('applies the documented defaults', () => {
    const cfg = parseEnv(storeEnv, {});
    expect(cfg.ELASTICSEARCH_URL).toBe('http://127.0.0.1:9200');
    expect(cfg.ES_INDEX_PREFIX).toBe('events');
    expect(cfg.ES_REQUEST_TIMEOUT_MS).toBe(5000);
  });

  it('reads and coerces values', () => {
    const cfg = parseEnv(storeEnv, {
      ELASTICSEARCH_URL: 'https://es.internal:9243',
      ES_INDEX_PREFIX: 'staging_events',
      ES_REQUEST_TIMEOUT_MS: '250',
    });
    expect(cfg).toMatchObject({
      ELASTICSEARCH_URL: 'https://es.internal:9243',
      ES_INDEX_PREFIX: 'staging_events',
      ES_REQUEST_TIMEOUT_MS: 250,
    });
  });

  it('names every wrong variable and its value in one error', () => {
    let error: unknown;
    try {
      parseEnv(storeEnv, { ELASTICSEARCH_URL: 'not a url', ES_INDEX_PREFIX: 'Has Spaces' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain('ELASTICSEARCH_URL ("not a url")');
    expect(message).toContain('ES_INDEX_PREFIX ("Has Spaces")');
    expect((error as ConfigError).issues).toHaveLength(2);
  });

  it('rejects a URL that is not http(s)', () => {
    expect(() => parseEnv(storeEnv, { ELASTICSEARCH_URL: 'ftp://es:21' })).toThrow(
      /ELASTICSEARCH_URL .*http\(s\)/,
    );
  });
});
