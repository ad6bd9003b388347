/**
 * Issue 16, item 10: an event without `event_end_date` is kept and served with `end_date` and
 * `end_time` null; a window with an `ends_at` bound does not return it, one without does
 * (docs/adr/0002-*.md, 0004-*.md). Answers are validated against openapi.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId } from '../../../src/domain/event.js';
import type { IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bootstrap, eventsOf, ingestFeed, searchApi, titlesOf, type FeedEvent } from './support.js';

const env = testStoreEnv('edge-open');
const prefix = env.ES_INDEX_PREFIX;
const client = testClient(env);
let names: IndexNames;

const ENDED: FeedEvent = {
  base: 'ended',
  title: 'Ended',
  start: '2022-06-01T20:00:00',
  end: '2022-06-01T22:00:00',
};
const OPEN: FeedEvent = { base: 'open', title: 'Open', start: '2022-06-02T20:00:00' };
const EMPTY_END: FeedEvent = {
  base: 'empty-end',
  title: 'Empty end',
  start: '2022-06-03T20:00:00',
  end: '',
};

beforeAll(async () => {
  names = await bootstrap(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

describe('open-ended events', () => {
  it('are kept, served with a null end, and returned only by windows without an ends_at bound', async () => {
    const run = await ingestFeed(client, prefix, [ENDED, OPEN, EMPTY_END]);
    expect(run.run.counts).toMatchObject({ events_upserted: 3, events_rejected: 0 });

    const search = searchApi(client, names);
    const all = await search('');
    expect(eventsOf(all)).toEqual([
      expect.objectContaining({ title: 'Ended', end_date: '2022-06-01', end_time: '22:00:00' }),
      {
        id: eventId('primary', 'open', '1'),
        title: 'Open',
        start_date: '2022-06-02',
        start_time: '20:00:00',
        end_date: null,
        end_time: null,
        min_price: 10,
        max_price: 10,
      },
      expect.objectContaining({ title: 'Empty end', end_date: null, end_time: null }),
    ]);
    expect(titlesOf(await search('starts_at=2022-06-02T00:00:00Z'))).toEqual(['Open', 'Empty end']);
    expect(
      titlesOf(await search('starts_at=2022-06-01T00:00:00Z&ends_at=9999-12-31T23:59:59Z')),
    ).toEqual(['Ended']);
    expect(titlesOf(await search('ends_at=9999-12-31T23:59:59Z'))).toEqual(['Ended']);
  });

  it('an event that loses its end in a later feed is served with a null end', async () => {
    await ingestFeed(client, prefix, [{ ...ENDED, end: undefined }]);
    const search = searchApi(client, names);
    expect(eventsOf(await search('ends_at=2022-06-05T00:00:00Z'))).toEqual([]);
    expect(eventsOf(await search('starts_at=2022-06-01T00:00:00Z'))[0]).toMatchObject({
      title: 'Ended',
      end_date: null,
      end_time: null,
    });
    // And gets it back when a later feed gives it again.
    await ingestFeed(client, prefix, [ENDED]);
    expect(titlesOf(await searchApi(client, names)('ends_at=2022-06-05T00:00:00Z'))).toEqual([
      'Ended',
    ]);
  });
});
