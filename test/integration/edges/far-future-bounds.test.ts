/**
 * Issue 16, item 7: a bound that cannot be represented once converted into the provider's zone
 * (outside the years 0000-9999) is a 400 naming the parameter, never a 500; the extreme
 * representable bounds are served (docs/adr/0004-*.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bootstrap, ingestFeed, searchApi, titlesOf } from './support.js';

const env = testStoreEnv('edge-far');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

beforeAll(async () => {
  names = await bootstrap(client, prefix);
  await ingestFeed(client, prefix, [
    { base: 'one', title: 'One', start: '2022-05-01T20:00:00', end: '2022-05-01T22:00:00' },
  ]);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('far-future and far-past bounds', () => {
  it.each([
    ['UTC', 'starts_at=9999-12-31T23:59:59-23:59', 'invalid_starts_at'],
    ['UTC', 'ends_at=9999-12-31T23:59:59-23:59', 'invalid_ends_at'],
    ['UTC', 'starts_at=0000-01-01T00:00:00%2B23:59', 'invalid_starts_at'],
    ['UTC', 'starts_at=9999-12-31T23:59:59.5Z', 'invalid_starts_at'],
    ['Europe/Madrid', 'ends_at=9999-12-31T23:59:59Z', 'invalid_ends_at'],
    ['Europe/Madrid', 'starts_at=0000-01-01T00:00:00Z', 'invalid_starts_at'],
  ])('%s: %s -> 400 %s', async (zone, query, code) => {
    const res = await searchApi(client, names, zone)(query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code }, data: null });
    expect((res.body as { error: { message: string } }).error.message).toMatch(
      /falls outside the years 0000 to 9999|rounds up past 9999-12-31T23:59:59/,
    );
  });

  it.each([
    ['UTC', 'starts_at=0000-01-01T00:00:00Z&ends_at=9999-12-31T23:59:59Z'],
    ['UTC', 'starts_at=0000-01-01T00:00:00&ends_at=9999-12-31T23:59:59'],
    ['Europe/Madrid', 'starts_at=0000-01-01T00:00:00&ends_at=9999-12-31T23:59:59'],
    ['Europe/Madrid', 'ends_at=9999-12-31T22:00:00Z'],
  ])('%s: %s is served', async (zone, query) => {
    const res = await searchApi(client, names, zone)(query);
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual(['One']);
  });
});
