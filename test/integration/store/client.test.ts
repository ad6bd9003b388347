import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from '@jest/globals';
import { dropPrefix, serverVersion, testClient, testStoreEnv } from '../../support/es.js';

const env = testStoreEnv('client');
const client = testClient(env);

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

describe('Elasticsearch client factory (live node)', () => {
  it("talks to a live Elasticsearch of the client's major, at or above its minor (ADR 0010)", async () => {
    const version = await serverVersion(client);
    // Printed on purpose: the test log shows which server the suite really ran against.
    console.info(`connected to Elasticsearch ${version} at ${env.ELASTICSEARCH_URL}`);
    const clientVersion = (
      JSON.parse(readFileSync('node_modules/@elastic/elasticsearch/package.json', 'utf8')) as {
        version: string;
      }
    ).version;
    const [serverMajor, serverMinor] = version.split('.').map(Number);
    const [clientMajor, clientMinor] = clientVersion.split('.').map(Number);
    expect(serverMajor).toBe(9);
    expect(serverMajor).toBe(clientMajor);
    expect(serverMinor).toBeGreaterThanOrEqual(clientMinor ?? Infinity);
  });

  it('round-trips a document: create index, index, search, delete', async () => {
    const index = `${env.ES_INDEX_PREFIX}-roundtrip`;
    await client.indices.create({
      index,
      mappings: { properties: { title: { type: 'text' }, at: { type: 'date' } } },
    });
    await client.index({
      index,
      id: 'a',
      document: { title: 'Los Morancos', at: '2021-07-31T20:00:00' },
      refresh: 'wait_for',
    });

    const found = await client.search<{ title: string }>({
      index,
      query: { match: { title: 'morancos' } },
    });
    expect(found.hits.hits.map((h) => [h._id, h._source?.title])).toEqual([['a', 'Los Morancos']]);

    await client.indices.delete({ index });
    expect(await client.indices.exists({ index })).toBe(false);
  });
});
