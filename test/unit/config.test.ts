import { describe, expect, it } from '@jest/globals';
import {
  apiEnv,
  bootstrapEnv,
  ConfigError,
  ingestEnv,
  migrateEnv,
  parseEnv,
  storeEnv,
} from '../../src/config.js';

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
    // A value that is not a URL is not shown at all (it could be a credential written wrongly).
    expect(message).toContain('ELASTICSEARCH_URL ("(invalid URL)")');
    expect(message).toContain('ES_INDEX_PREFIX ("Has Spaces")');
    expect((error as ConfigError).issues).toHaveLength(2);
  });

  it('rejects a URL that is not http(s)', () => {
    expect(() => parseEnv(storeEnv, { ELASTICSEARCH_URL: 'ftp://es:21' })).toThrow(
      /ELASTICSEARCH_URL .*http\(s\)/,
    );
  });
});

describe('configuration errors never echo a secret', () => {
  function issuesOf(schema: Parameters<typeof parseEnv>[0], env: NodeJS.ProcessEnv): string {
    try {
      parseEnv(schema, env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).message;
    }
    throw new Error('the configuration was accepted');
  }

  it('names a bad secret variable and its rule, never its value', () => {
    const message = issuesOf(storeEnv, { ES_API_KEY: '', ES_PASSWORD: '' });
    expect(message).toMatch(/ES_API_KEY \(value hidden\): /);
    expect(message).toMatch(/ES_PASSWORD \(value hidden\): /);
  });

  it('shows a bad URL without its userinfo or query', () => {
    const message = issuesOf(ingestEnv, {
      ELASTICSEARCH_URL: 'ftp://elastic:s3cr3t-pass@es.internal:9200',
      PROVIDER_URL: 'ftp://feed:t0ken-user@provider.example/feed?token=s3cr3t-token',
      PUSHGATEWAY_URL: 'not a url with s3cr3t inside',
    });
    expect(message).toMatch(
      /ELASTICSEARCH_URL \("ftp:\/\/es\.internal:9200\/"\): must be an absolute/,
    );
    expect(message).toMatch(
      /PROVIDER_URL \("ftp:\/\/provider\.example\/feed\?…"\): must be an absolute/,
    );
    expect(message).toMatch(/PUSHGATEWAY_URL \("\(invalid URL\)"\): must be an absolute/);
    expect(message).not.toMatch(/s3cr3t|t0ken|elastic:|feed:/);
  });

  it("refuses an ingester's PROVIDER_TIMEZONE that is no IANA zone, naming it", () => {
    expect(
      issuesOf(ingestEnv, { PROVIDER_URL: 'http://p.test/', PROVIDER_TIMEZONE: 'CEST+2' }),
    ).toMatch(
      /PROVIDER_TIMEZONE \("CEST\+2"\): must be an IANA time-zone name such as UTC or Europe\/Madrid/,
    );
  });

  it('still shows the value of an ordinary variable', () => {
    expect(issuesOf(storeEnv, { ES_INDEX_PREFIX: 'Bad Prefix' })).toMatch(
      /ES_INDEX_PREFIX \("Bad Prefix"\)/,
    );
  });
});

describe('parseEnv(apiEnv): production defaults', () => {
  it('trusts only the socket address and bounds the Elasticsearch work', () => {
    const cfg = parseEnv(apiEnv, {});
    expect(cfg.PROXY_HOPS).toBe(0);
    expect(cfg.ES_MAX_CONCURRENT_QUERIES).toBe(16);
    expect(cfg.ES_MAX_OPEN_PITS).toBe(4);
    // Unset: the API derives the _msearch bound from the query slots (defaultMaxBatch).
    expect(cfg.ES_MSEARCH_MAX_BATCH).toBeUndefined();
    // A short line in front of the query bulkhead, each miss waiting at most the query timeout.
    expect([cfg.ES_QUERY_QUEUE, cfg.ES_QUERY_QUEUE_WAIT_MS]).toEqual([
      64,
      cfg.ES_REQUEST_TIMEOUT_MS,
    ]);
  });
});

describe('parseEnv(bootstrapEnv)', () => {
  it('defaults to no replicas and a 1 s refresh, and reads both', () => {
    expect(parseEnv(bootstrapEnv, {})).toMatchObject({
      ES_INDEX_REPLICAS: 0,
      ES_INDEX_REFRESH_INTERVAL: '1s',
    });
    expect(
      parseEnv(bootstrapEnv, { ES_INDEX_REPLICAS: '2', ES_INDEX_REFRESH_INTERVAL: '30s' }),
    ).toMatchObject({ ES_INDEX_REPLICAS: 2, ES_INDEX_REFRESH_INTERVAL: '30s' });
  });

  it('refuses a refresh interval Elasticsearch would not read', () => {
    expect(() => parseEnv(bootstrapEnv, { ES_INDEX_REFRESH_INTERVAL: '1 second' })).toThrow(
      /ES_INDEX_REFRESH_INTERVAL \("1 second"\): must be an Elasticsearch time/,
    );
    expect(() => parseEnv(bootstrapEnv, { ES_INDEX_REPLICAS: '-1' })).toThrow(/ES_INDEX_REPLICAS/);
  });
});

describe('parseEnv(migrateEnv)', () => {
  it('reads each provider zone, none by default', () => {
    expect(parseEnv(migrateEnv, {}).MIGRATE_PROVIDER_TIMEZONES).toEqual(new Map());
    const env = parseEnv(migrateEnv, {
      MIGRATE_PROVIDER_TIMEZONES: ' primary=Europe/Madrid, second=America/New_York,',
    });
    expect([...env.MIGRATE_PROVIDER_TIMEZONES]).toEqual([
      ['primary', 'Europe/Madrid'],
      ['second', 'America/New_York'],
    ]);
    expect(env).toMatchObject({ MIGRATE_LEASE_WAIT_MS: 240_000, INGEST_LEASE_TTL_MS: 60_000 });
  });

  it('refuses a pair that is not name=Zone, or two zones for one provider, naming the variable', () => {
    expect(() => parseEnv(migrateEnv, { MIGRATE_PROVIDER_TIMEZONES: 'primary=CEST+2' })).toThrow(
      /MIGRATE_PROVIDER_TIMEZONES .*"primary=CEST\+2" is not name=Zone/,
    );
    expect(() => parseEnv(migrateEnv, { MIGRATE_PROVIDER_TIMEZONES: 'Europe/Madrid' })).toThrow(
      /is not name=Zone/,
    );
    expect(() =>
      parseEnv(migrateEnv, { MIGRATE_PROVIDER_TIMEZONES: 'a=UTC,a=Europe/Madrid' }),
    ).toThrow(/provider a is given two zones/);
  });
});
