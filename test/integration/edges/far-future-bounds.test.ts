/**
 * Issue 16, item 7 (as issue 17 left it): a wall-clock lower bound rounding up past the last
 * representable second is a 400 naming the parameter, never a 500; instants a day outside the
 * years 0000-9999 and the extreme wall-clock bounds are served, and so are events at the extremes
 * whose instants fall outside those years (docs/adr/0004-*.md).
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
    ['starts_at=9999-12-31T23:59:59.5', 'invalid_starts_at'],
    ['starts_at=9999-12-31T23:59:59.5&ends_at=9999-12-31T23:59:59.9', 'invalid_starts_at'],
  ])('%s -> 400 %s', async (query, code) => {
    const res = await searchApi(names)(query);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: { code }, data: null });
    expect((res.body as { error: { message: string } }).error.message).toMatch(
      /rounds up past 9999-12-31T23:59:59/,
    );
  });

  it.each([
    'starts_at=0000-01-01T00:00:00Z&ends_at=9999-12-31T23:59:59Z',
    'starts_at=0000-01-01T00:00:00&ends_at=9999-12-31T23:59:59',
    // Instants a day outside the years 0000-9999: compared with instants, no zone involved.
    'starts_at=0000-01-01T00:00:00%2B23:59&ends_at=9999-12-31T23:59:59-23:59',
    'ends_at=9999-12-31T22:00:00Z',
  ])('%s is served', async (query) => {
    const res = await searchApi(names)(query);
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual(['One']);
  });

  it('serves events at the extremes of the years, whatever their zone', async () => {
    const extremes = `${prefix}-extremes`;
    const extremeNames = await bootstrap(client, extremes);
    try {
      await ingestFeed(
        client,
        extremes,
        [{ base: 'last', title: 'Last', start: '9999-12-31T23:00:00', end: '9999-12-31T23:59:59' }],
        { timeZone: 'America/New_York' },
      );
      await ingestFeed(
        client,
        extremes,
        [
          {
            base: 'first',
            title: 'First',
            start: '0000-01-01T00:00:00',
            end: '0000-01-01T01:00:00',
          },
        ],
        { timeZone: 'Asia/Tokyo', provider: 'tokyo' },
      );
      const search = searchApi(extremeNames);
      expect(titlesOf(await search(''))).toEqual(['First', 'Last']);
      // 23:59:59 in New York is 04:59:59Z in the year 10000.
      expect(titlesOf(await search('starts_at=9999-12-31T23:59:59Z'))).toEqual(['Last']);
      // 00:00 in Tokyo (local mean time +09:18:59) is the year -1 in UTC.
      expect(titlesOf(await search('ends_at=0000-01-01T00:00:00Z'))).toEqual(['First']);
    } finally {
      await dropPrefix(client, extremes);
    }
  });
});
