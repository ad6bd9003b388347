/**
 * Many providers (docs/adr/0014-many-providers.md): an XML provider and an NDJSON provider
 * publishing the same base event and event ids, ingested by the real run into one events alias;
 * the API serves both providers' events, in order, notices a run of either, and reports each
 * provider's freshness on /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bootstrapIndices, type IndexNames } from '../../../src/store/indices.js';
import { ndjsonOfXml } from '../../../src/sim/ndjson.js';
import { dropPrefix, testClient, testStoreEnv } from '../../support/es.js';
import { bytesSource, failingSource, fixture, ingest } from '../ingest/support.js';
import { FeedError } from '../../../src/ingest/errors.js';
import { buildApi } from './api-fixture.js';

const store = testStoreEnv('it-providers');
const client = testClient(store);
const prefix = store.ES_INDEX_PREFIX;
let names: IndexNames;

interface Served {
  id: string;
  title: string;
  start_date: string;
  start_time: string | null;
}

beforeAll(async () => {
  names = await bootstrapIndices(client, prefix);
});

afterAll(async () => {
  await dropPrefix(client, prefix);
  await client.close();
});

function metric(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
    out[m[1] ?? ''] = Number(m[2]);
  }
  return out;
}

describe('two providers in one events alias', () => {
  it('reports no provider and a last success of 0 before any run', async () => {
    const api = buildApi({ names });
    await api.poller.pollOnce();
    const text = (await api.http.get('/metrics')).text;
    expect(metric(text, 'event_search_last_successful_ingest_timestamp_seconds')).toEqual({
      '': 0,
    });
    expect(metric(text, 'event_search_data_age_seconds')).toEqual({});
  });

  it('serves both providers, notices a run of either, and reports each one freshness', async () => {
    const xml = await ingest(client, prefix, bytesSource(fixture(1)), { provider: 'madrid' });
    const json = await ingest(client, prefix, bytesSource(await ndjsonOfXml(fixture(1))), {
      provider: 'json',
      format: 'ndjson',
    });
    const broken = await ingest(client, prefix, failingSource(new FeedError('network', 'down')), {
      provider: 'broken',
    });
    expect([xml.ok, json.ok, broken.ok]).toEqual([true, true, false]);
    await client.indices.refresh({ index: names.eventsAlias });

    const api = buildApi({ names });
    await api.poller.pollOnce();
    const res = await api.http.get('/search');
    expect(res.status).toBe(200);
    const events = (res.body as { data: { events: Served[] } }).data.events;
    // The same base event and event ids from two providers: two events, two ids.
    const camela = events.filter((e) => e.title === 'Camela en concierto');
    expect(camela).toHaveLength(2);
    expect(new Set(camela.map((e) => e.id)).size).toBe(2);
    expect(events.length).toBeGreaterThanOrEqual(6);
    const order = events.map((e) => `${e.start_date}T${e.start_time ?? ''}|${e.id}`);
    expect(order).toEqual([...order].sort());

    const text = (await api.http.get('/metrics')).text;
    const lastSuccess = metric(text, 'event_search_last_successful_ingest_timestamp_seconds');
    expect(lastSuccess).toEqual({
      '{provider="madrid"}': Date.parse(xml.run.finished_at ?? '') / 1000,
      '{provider="json"}': Date.parse(json.run.finished_at ?? '') / 1000,
      '{provider="broken"}': 0,
    });
    expect(Object.keys(metric(text, 'event_search_data_age_seconds')).sort()).toEqual([
      '{provider="json"}',
      '{provider="madrid"}',
    ]);

    // A cached answer, then a new run of one provider only: the next answer is not the cached one.
    await api.http.get('/search');
    const hits = () =>
      api.http
        .get('/metrics')
        .then((r) => metric(r.text, 'event_search_search_cache_lookups_total'));
    const before = await hits();
    expect(before['{result="hit"}']).toBe(1);
    const again = await ingest(client, prefix, bytesSource(await ndjsonOfXml(fixture(2))), {
      provider: 'json',
      format: 'ndjson',
    });
    expect(again.ok).toBe(true);
    await api.poller.pollOnce();
    await api.http.get('/search');
    const after = await hits();
    expect(after['{result="miss"}']).toBe((before['{result="miss"}'] ?? 0) + 1);
    expect(after['{result="hit"}']).toBe(1);
  });
});
