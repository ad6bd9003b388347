/**
 * Test access to the real Elasticsearch started by scripts/with-es.sh (or any that answers on
 * ELASTICSEARCH_URL). Every test file gets its own index prefix so it never touches user data or
 * another test's indices, and removes what it created.
 */
import { randomBytes } from 'node:crypto';
import { parseEnv, storeEnv, type StoreEnv } from '../../src/config.js';
import { createEsClient, type Client } from '../../src/store/client.js';

export function testStoreEnv(label: string): StoreEnv {
  const prefix = `test-${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  return parseEnv(storeEnv, { ...process.env, ES_INDEX_PREFIX: prefix });
}

export function testClient(env: StoreEnv): Client {
  return createEsClient(env);
}

/** Deletes every index, alias target and template under the prefix. */
export async function dropPrefix(client: Client, prefix: string): Promise<void> {
  await client.indices.delete({
    index: `${prefix}-*`,
    ignore_unavailable: true,
    allow_no_indices: true,
  });
  const templates = await client.indices.getIndexTemplate(
    { name: `${prefix}-*` },
    { ignore: [404] },
  );
  for (const t of templates.index_templates ?? []) {
    await client.indices.deleteIndexTemplate({ name: t.name });
  }
}

/** The version of the node the tests talk to (the integ-test distribution has no `GET /`). */
export async function serverVersion(client: Client): Promise<string> {
  const info = await client.nodes.info({ node_id: '_local', metric: '_none' });
  const node = Object.values(info.nodes)[0];
  if (!node) throw new Error('no node answered');
  return node.version;
}
