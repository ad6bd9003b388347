/**
 * Issue 16, item 1: wall-clock bounds in a daylight-saving gap or overlap are accepted and compared
 * with the wall clock the provider uses; issue 17: instants are compared with each event's times as
 * instants, computed at ingest with the provider's zone (PROVIDER_TIMEZONE=Europe/Madrid): a time
 * shown twice is its first pass, a time skipped is the instant of the change (docs/adr/0004-*.md).
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
  await ingestFeed(
    client,
    prefix,
    [
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
    ],
    { timeZone: 'Europe/Madrid' },
  );
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('daylight-saving gap and overlap bounds (Europe/Madrid)', () => {
  it('accepts a window starting in the spring-forward gap and compares it on the wall clock', async () => {
    const search = searchApi(names);
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
    const search = searchApi(names);
    const res = await search('starts_at=2021-10-31T02:00:00&ends_at=2021-10-31T02:59:59');
    expect(res.status).toBe(200);
    expect(titlesOf(res)).toEqual(['In the overlap']);
    // Ordered on the wall clock although 02:50 (first pass) ... 02:20 (second pass) are ordered
    // instants too: reversed wall-clock bounds are refused.
    const reversed = await search('starts_at=2021-10-31T02:50:00&ends_at=2021-10-31T02:20:00');
    expect(reversed.status).toBe(400);
    expect(reversed.body).toMatchObject({ error: { code: 'invalid_range' } });
  });

  it('compares instants with the first pass of a time the clock shows twice', async () => {
    const search = searchApi(names);
    // 'In the overlap' (02:10-02:50) is 00:10Z-00:50Z (CEST, the first pass).
    const first = await search('starts_at=2021-10-31T00:10:00Z&ends_at=2021-10-31T00:50:00Z');
    expect(titlesOf(first)).toEqual(['In the overlap']);
    // The second pass (01:10Z-01:50Z, CET) is not it.
    const second = await search('starts_at=2021-10-31T01:00:00Z&ends_at=2021-10-31T01:59:59Z');
    expect(titlesOf(second)).toEqual([]);
    // 03:00 CET is 02:00Z.
    const after = await search('starts_at=2021-10-31T02:00:00Z&ends_at=2021-10-31T02:30:00Z');
    expect(titlesOf(after)).toEqual(['After the overlap']);
  });

  it('compares instants with a skipped time as the instant of the change (01:00Z)', async () => {
    const search = searchApi(names);
    // 'Listed in the gap' (02:40-03:05) is 01:00Z-01:05Z; 'Right after the jump' 01:00Z-01:10Z.
    const res = await search('starts_at=2021-03-28T01:00:00Z&ends_at=2021-03-28T01:10:00Z');
    expect(titlesOf(res)).toEqual(['Listed in the gap', 'Right after the jump']);
    // The same instants written with Madrid's offset after the change.
    const cest = await search(
      'starts_at=2021-03-28T03:00:00%2B02:00&ends_at=2021-03-28T03:05:00%2B02:00',
    );
    expect(titlesOf(cest)).toEqual(['Listed in the gap']);
    expect(titlesOf(await search('ends_at=2021-03-28T00:59:59Z'))).toEqual([]);
  });

  it('takes a mixed window as one bound on each field', async () => {
    const search = searchApi(names);
    // From 00:10Z (02:10 CEST, first pass) to 02:50 on the wall clock.
    const res = await search('starts_at=2021-10-31T00:10:00Z&ends_at=2021-10-31T02:50:00');
    expect(titlesOf(res)).toEqual(['In the overlap']);
  });
});
