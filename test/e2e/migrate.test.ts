/**
 * Issue 17, migration as real processes (docs/adr/0015-events-migration.md): a deployment of the
 * previous release (events mapping version 2, written by the real writer as that release wrote
 * them, one provider in Europe/Madrid) is upgraded by the migration command (`dist/main/migrate.js`)
 * while the API process keeps answering: a client queries throughout, every answer is a 200 and the
 * same as before, and the answers after the migration are identical to those before. Afterwards a
 * window of instants is compared in the provider's zone, and running the command again is harmless.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { indexNames } from '../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { SAMPLE_RAWS, seedEarlierVersion, seedRun } from '../support/seed.js';
import { eventually, freePort, node, runToEnd, stop, type Proc } from '../support/processes.js';

const store = testStoreEnv('e2e-migrate');
const client = testClient(store);
const prefix = store.ES_INDEX_PREFIX;
let api: Proc;
let apiPort: number;

/** Wall-clock windows and none: what the previous release answered, to be answered the same. */
const QUERIES = [
  '',
  'starts_at=2021-02-01T00:00:00&ends_at=2022-07-03T00:00:00',
  'starts_at=2021-06-30T21:00:00',
  'ends_at=2021-06-30T21:30:00',
  'starts_at=2021-07-31T20:00:00&ends_at=2021-07-31T21:00:00',
];

async function answer(query: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/search${query ? `?${query}` : ''}`);
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  await seedEarlierVersion(client, prefix, 2, {
    madrid: SAMPLE_RAWS.map((raw) => ({ ...raw })),
  });
  await seedRun(client, indexNames(prefix), { provider: 'madrid' });
  apiPort = await freePort();
  // No cache: every answer comes from Elasticsearch, through the alias, while it moves.
  api = node('api', {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: prefix,
    PORT: String(apiPort),
    CACHE_MAX_ENTRIES: '0',
    RATE_LIMIT_ENABLED: 'false',
    SHED_LAG_MS: '0',
  });
  await eventually(
    async () => ((await answer('').catch(() => undefined))?.status === 200 ? true : undefined),
    20_000,
    'the API',
  );
}, 40_000);

afterAll(async () => {
  if (api) await stop(api);
  await dropPrefix(client, prefix);
  await client.close();
});

describe('the migration command upgrades a running deployment', () => {
  it('moves the alias to the current version while the API answers the same throughout', async () => {
    const before = new Map<string, string>();
    for (const q of QUERIES) {
      const res = await answer(q);
      expect(res.status).toBe(200);
      before.set(q, res.body);
    }
    expect(JSON.parse(before.get('') ?? '{}').data.events).toHaveLength(3);

    // A client queries without pause until the command has exited.
    let migrating = true;
    const during: { query: string; status: number; same: boolean }[] = [];
    const querying = (async () => {
      for (let i = 0; migrating; i++) {
        const query = QUERIES[i % QUERIES.length] ?? '';
        const res = await answer(query);
        during.push({ query, status: res.status, same: res.body === before.get(query) });
      }
    })();
    const migration = await runToEnd('migrate', {
      ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
      ES_INDEX_PREFIX: prefix,
      MIGRATE_PROVIDER_TIMEZONES: 'madrid=Europe/Madrid',
    });
    migrating = false;
    await querying;
    expect(migration.code === 0 ? 0 : migration.output).toBe(0);
    expect(migration.output).toMatch(/"phase":"swapped"/);
    expect(during.length).toBeGreaterThan(0);
    expect(during.filter((d) => d.status !== 200 || !d.same)).toEqual([]);

    const aliases = await client.indices.getAlias({ name: indexNames(prefix).eventsAlias });
    expect(Object.keys(aliases)).toEqual([indexNames(prefix).eventsIndex]);
    for (const q of QUERIES)
      expect({ q, ...(await answer(q)) }).toEqual({ q, status: 200, body: before.get(q) });
  }, 60_000);

  it('compares instants in the provider zone afterwards; running the command again is harmless', async () => {
    // Camela is 21:00-21:30 Madrid time (CEST) on 2021-06-30: 19:00Z-19:30Z.
    const res = await answer('starts_at=2021-06-30T19:00:00Z&ends_at=2021-06-30T19:30:00Z');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).data.events.map((e: { title: string }) => e.title)).toEqual([
      'Camela en concierto',
    ]);
    const again = await runToEnd('migrate', {
      ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
      ES_INDEX_PREFIX: prefix,
    });
    expect(again.code === 0 ? 0 : again.output).toBe(0);
    expect(again.output).toMatch(/nothing to migrate/);
  }, 30_000);

  it('fails clearly, exit 1, when a provider of the old index has no zone', async () => {
    const other = `${prefix}-nozone`;
    await seedEarlierVersion(client, other, 2, { madrid: SAMPLE_RAWS.slice(0, 1) });
    const res = await runToEnd('migrate', {
      ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
      ES_INDEX_PREFIX: other,
    });
    expect(res.code).toBe(1);
    expect(res.output).toMatch(/no time zone for provider\(s\) madrid/);
    await dropPrefix(client, other);
  }, 30_000);
});
