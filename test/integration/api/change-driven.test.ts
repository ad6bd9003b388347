/**
 * Change-driven data (docs/adr/0013-change-driven-data.md), through the real ingester and the real
 * search API over a real Elasticsearch:
 * - a run over an unchanged feed re-indexes no event document (Elasticsearch's `index_total` does
 *   not move) and leaves the data version, so a warmed window stays a cache hit with its ETag;
 * - a run that writes part of a feed and then fails moves the data version: every API process
 *   serves the values written.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { isWriteItem, type WriteItem, type WriteOp } from '../../../src/ingest/operations.js';
import { bootstrapIndices, type IndexNames } from '../../../src/store/indices.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bytesSource, fixture, indexTotal as indexTotalOf, ingest } from '../ingest/support.js';
import { buildApi } from './api-fixture.js';

const env = testStoreEnv('api-change');
const client = testClient(env);
let names: IndexNames;

const WINDOW = '/search?starts_at=2021-01-01T00:00:00Z&ends_at=2021-12-31T00:00:00Z';
/** Runs on one UTC day (last_seen_at is the day of the sighting). */
const at = (time: string) => () => new Date(`2024-05-06T${time}Z`);

beforeAll(async () => {
  names = await bootstrapIndices(client, env.ES_INDEX_PREFIX);
});

afterAll(async () => {
  await dropPrefix(client, env.ES_INDEX_PREFIX);
  await client.close();
});

const indexTotal = () => indexTotalOf(client, names.prefix);

type Api = ReturnType<typeof buildApi>;

async function get(api: Api) {
  const res = await api.http.get(WINDOW);
  expect(res.status).toBe(200);
  return res;
}

describe('a run over an unchanged feed', () => {
  it('re-indexes no event document and keeps every cached answer and its ETag', async () => {
    const first = await ingest(client, names.prefix, bytesSource(fixture(1)), {
      now: at('10:00:00'),
    });
    expect(first.ok).toBe(true);
    expect(first.run.counts.items_changed).toBe(3);

    const api = buildApi({ names });
    await api.poller.pollOnce();
    const warm = await get(api);
    expect(warm.headers['x-cache']).toBe('miss');
    expect((await get(api)).headers['x-cache']).toBe('hit');

    const before = await indexTotal();
    const again = await ingest(client, names.prefix, bytesSource(fixture(1)), {
      now: at('10:01:00'),
    });
    expect(again.ok).toBe(true);
    expect(again.run.counts).toMatchObject({ events_upserted: 3, items_changed: 0 });
    expect(await indexTotal()).toBe(before);

    // The poller sees the new successful run, but the data version did not move.
    await api.poller.pollOnce();
    expect(api.poller.latest?.runId).toBe(again.run.run_id);
    const after = await get(api);
    expect(after.headers['x-cache']).toBe('hit');
    expect(after.headers.etag).toBe(warm.headers.etag);
  });
});

describe('a run that writes part of a feed and then fails', () => {
  it('moves the data version: every API process serves the values written', async () => {
    const replicas = [buildApi({ names }), buildApi({ names })];
    const warm = [];
    for (const api of replicas) {
      await api.poller.pollOnce();
      await get(api);
      const hit = await get(api);
      expect(hit.headers['x-cache']).toBe('hit');
      warm.push(hit);
    }
    expect(warm[0]?.body).toEqual(warm[1]?.body);

    // Feed 3 changes event 291 (ends 21:30, prices 20..30); the writer also gets an item
    // Elasticsearch refuses (a price that is not a number), so the run fails after writing.
    const failed = await ingest(client, names.prefix, bytesSource(fixture(3)), {
      now: at('10:02:00'),
      wrapSink: (sink) => (ops, context) => {
        async function* withRefusedItem(): AsyncGenerator<WriteOp | WriteItem> {
          let last: WriteItem | undefined;
          for await (const op of ops) {
            if (isWriteItem(op) && op.kind === 'event') last = op;
            yield op;
          }
          if (last === undefined) throw new Error('the feed should carry a valid event');
          const id = '00000000-0000-5000-8000-000000000999';
          const bad = (json: string) =>
            JSON.stringify({ ...JSON.parse(json), id, base_event_id: '999', max_price: 'lots' });
          yield { ...last, id, json: { doc: bad(last.json.doc), upsert: bad(last.json.upsert) } };
        }
        return sink(withRefusedItem(), context);
      },
    });
    expect(failed.ok).toBe(false);
    expect(failed.run.counts.bulk_failures).toBe(1);
    expect(failed.run.error).toMatch(/^Elasticsearch refused 1 of /);

    for (const [i, api] of replicas.entries()) {
      await api.poller.pollOnce();
      const now = await get(api);
      expect(now.headers['x-cache']).toBe('miss');
      expect(now.headers.etag).not.toBe(warm[i]?.headers.etag);
      const camela = (
        now.body as { data: { events: { title: string; end_time: string }[] } }
      ).data.events.find((e) => e.title === 'Camela en concierto');
      expect(camela).toMatchObject({ end_time: '21:30:00', min_price: 20, max_price: 30 });
    }
  });

  it('a failed run that wrote nothing (the feed could not be read) keeps the caches', async () => {
    const api = buildApi({ names });
    await api.poller.pollOnce();
    await get(api);
    const warm = await get(api);
    expect(warm.headers['x-cache']).toBe('hit');
    const broken = await ingest(client, names.prefix, bytesSource('<eventList><output>'), {
      now: at('10:03:00'),
    });
    expect(broken.ok).toBe(false);
    await api.poller.pollOnce();
    const after = await get(api);
    expect(after.headers['x-cache']).toBe('hit');
    expect(after.headers.etag).toBe(warm.headers.etag);
  });
});
