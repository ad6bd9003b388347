/**
 * Issue 16, item 1: wall-clock bounds in a daylight-saving gap or overlap are accepted and compared
 * as the wall clock the provider uses (PROVIDER_TIMEZONE=Europe/Madrid; docs/adr/0004-*.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bootstrap, ingestFeed, searchApi, titlesOf } from './support.js';

const env = testStoreEnv('edge-dst');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

beforeAll(async () => {
  names = await bootstrap(client, prefix);
  await ingestFeed(client, prefix, [
    // 2021-03-28 in Madrid: 02:00 becomes 03:00 (02:xx does not exist on the clock's way).
    {
      base: 'gap-a',
      title: 'Listed in the gap',
      start: '2021-03-28T02:40:00',
      end: '2021-03-28T03:05:00',
    },
    {
      base: 'gap-b',
      title: 'Right after the jump',
      start: '2021-03-28T03:00:00',
      end: '2021-03-28T03:10:00',
    },
    {
      base: 'gap-c',
      title: 'Ends after the window',
      start: '2021-03-28T03:00:00',
      end: '2021-03-28T03:20:00',
    },
    // 2021-10-31 in Madrid: 03:00 goes back to 02:00 (02:xx happens twice).
    {
      base: 'fold-a',
      title: 'In the overlap',
      start: '2021-10-31T02:10:00',
      end: '2021-10-31T02:50:00',
    },
    {
      base: 'fold-b',
      title: 'After the overlap',
      start: '2021-10-31T03:00:00',
      end: '2021-10-31T03:30:00',
    },
  ]);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('daylight-saving gap and overlap bounds (Europe/Madrid)', () => {
  it('accepts a window starting in the spring-forward gap and compares it on the wall clock', async () => {
    const search = searchApi(client, names, 'Europe/Madrid');
    const res = await search('starts_at=2021-03-28T02:30:00&ends_at=2021-03-28T03:10:00');
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual(['Listed in the gap', 'Right after the jump']);
    // Both bounds inside the gap.
    const inside = await search('starts_at=2021-03-28T02:30:00&ends_at=2021-03-28T02:59:59');
    expect(titlesOf(inside)).toEqual([]);
    // A gap bound is not moved an hour forward: 02:40 still starts after 02:30.
    const from = await search('starts_at=2021-03-28T02:30:00');
    expect(titlesOf(from)).toEqual([
      'Listed in the gap',
      'Right after the jump',
      'Ends after the window',
      'In the overlap',
      'After the overlap',
    ]);
  });

  it('accepts an overlap (ambiguous) wall-clock window and compares it on the wall clock', async () => {
    const search = searchApi(client, names, 'Europe/Madrid');
    const res = await search('starts_at=2021-10-31T02:00:00&ends_at=2021-10-31T02:59:59');
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual(['In the overlap']);
    // Ordered on the wall clock although 02:50 (first pass) ... 02:20 (second pass) are ordered
    // instants too: reversed wall-clock bounds are refused.
    const reversed = await search('starts_at=2021-10-31T02:50:00&ends_at=2021-10-31T02:20:00');
    expect(reversed.status).toBe(400);
    expect(reversed.body).toMatchObject({ error: { code: 'invalid_range' } });
  });

  it('still reads two instants across the fold as instants (valid but empty)', async () => {
    const search = searchApi(client, names, 'Europe/Madrid');
    // 00:30Z is 02:30 CEST, 01:10Z is 02:10 CET: ordered in time, reversed on the clock.
    const res = await search('starts_at=2021-10-31T00:30:00Z&ends_at=2021-10-31T01:10:00Z');
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual([]);
  });
});
