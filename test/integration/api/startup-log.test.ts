/**
 * The API's start-up line names the Elasticsearch it talks to, without the credential a URL may
 * embed (`https://user:pass@host`): the real builder, started, its log read back.
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createSearchService } from '../../../src/api/service.js';
import { apiEnv, parseEnv } from '../../../src/config.js';
import { createLogger } from '../../../src/observability/logger.js';

describe('the start-up log', () => {
  it('shows ELASTICSEARCH_URL without its user and password', async () => {
    const url = new URL(process.env.ELASTICSEARCH_URL ?? 'http://127.0.0.1:9200');
    url.username = 'elastic';
    url.password = 's3cr3t-pass';
    const config = parseEnv(apiEnv, {
      ELASTICSEARCH_URL: url.toString(),
      ES_INDEX_PREFIX: 'test-startup-log',
      PORT: '0',
    });
    const lines: string[] = [];
    const destination = new PassThrough();
    destination.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
    const logger = createLogger({ name: 'api-test', level: 'info', destination });
    const service = createSearchService(config, { logger, registry: new Registry() });
    await service.start();
    await service.stop();

    const listening = lines
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; elasticsearch?: string; proxy_hops?: number })
      .find((l) => l.msg === 'search API listening');
    expect(listening?.elasticsearch).toBe(`${url.protocol}//${url.host}/`);
    expect(listening?.proxy_hops).toBe(0);
    expect(lines.join('\n')).not.toContain('s3cr3t-pass');
  });
});
