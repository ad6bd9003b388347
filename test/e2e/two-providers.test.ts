/**
 * Two providers as real processes (docs/adr/0014-many-providers.md): the provider simulator serves
 * the XML feed (`/feed`) and the same events as NDJSON (`/feed.ndjson`); the ingest entry point
 * runs once for each provider (`PROVIDER_FORMAT=xml` in Europe/Madrid and `ndjson` in
 * America/New_York); the API, queried over HTTP, finds both providers' events through /search (the
 * same base event and event ids: two events, two ids), ordered by start instant; a window of
 * instants returns each event according to its own provider's zone, a window without offsets
 * compares wall clocks (docs/adr/0004-*.md); and /metrics shows each provider's freshness.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventId } from '../../src/domain/event.js';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { eventually, freePort, node, runToEnd, stop, type Proc } from '../support/processes.js';

const store = testStoreEnv('e2e-providers');
const client = testClient(store);
let sim: Proc;
let api: Proc;
let simPort: number;
let apiPort: number;

interface Served {
  id: string;
  title: string;
  start_date: string;
  start_time: string | null;
}

beforeAll(async () => {
  simPort = await freePort();
  apiPort = await freePort();
  sim = node('provider-sim', { PORT: String(simPort) });
  await eventually(
    async () => ((await fetch(`http://127.0.0.1:${simPort}/healthz`)).ok ? true : undefined),
    15_000,
    'the simulator',
  );
}, 30_000);

afterAll(async () => {
  if (api) await stop(api);
  if (sim) await stop(sim);
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

/** The provider of a served event id (the samples' identities, for both providers). */
function providerOf(id: string): string {
  const pairs = [
    ['291', '291'],
    ['322', '322'],
    ['322', '1642'],
    ['1591', '1591'],
    ['1591', '1642'],
  ];
  for (const provider of ['madrid', 'json']) {
    if (pairs.some(([base = '', event = '']) => eventId(provider, base, event) === id))
      return provider;
  }
  return `unknown ${id}`;
}

async function served(query: string): Promise<string[]> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/search?${query}`);
  expect({ query, status: res.status }).toEqual({ query, status: 200 });
  const body = (await res.json()) as { data: { events: Served[] } };
  return body.data.events.map((e) => `${providerOf(e.id)} ${e.title}`);
}

describe('an XML and an NDJSON provider side by side', () => {
  const common = () => ({
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
  });

  it('ingests each provider in its own run, each exiting 0', async () => {
    // The indices come from the bootstrap, as in a deployment (the ingester only checks them).
    const boot = await runToEnd('bootstrap', common());
    expect(boot.code === 0 ? 0 : boot.output).toBe(0);
    const runs = await Promise.all([
      runToEnd('ingest', {
        ...common(),
        PROVIDER_NAME: 'madrid',
        PROVIDER_URL: `http://127.0.0.1:${simPort}/feed`,
        PROVIDER_TIMEZONE: 'Europe/Madrid',
      }),
      runToEnd('ingest', {
        ...common(),
        PROVIDER_NAME: 'json',
        PROVIDER_URL: `http://127.0.0.1:${simPort}/feed.ndjson`,
        PROVIDER_FORMAT: 'ndjson',
        PROVIDER_TIMEZONE: 'America/New_York',
      }),
    ]);
    expect(runs.map((r) => (r.code === 0 ? 0 : r.output))).toEqual([0, 0]);
    expect(runs[1]?.output).toMatch(/"provider_format":"ndjson"/);
  }, 60_000);

  it('finds both providers through /search, in order, and their freshness on /metrics', async () => {
    api = node('api', { ...common(), PORT: String(apiPort), FRESHNESS_POLL_MS: '200' });
    const events = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/search`).catch(() => undefined);
        if (!res?.ok) return undefined;
        const body = (await res.json()) as { data: { events: Served[] } };
        return body.data.events.length > 0 ? body.data.events : undefined;
      },
      20_000,
      'the API to answer /search',
    );
    const titles = ['Camela en concierto', 'Pantomima Full', 'Los Morancos'];
    for (const title of titles) {
      const same = events.filter((e) => e.title === title);
      expect({ title, ids: new Set(same.map((e) => e.id)).size }).toEqual({ title, ids: 2 });
    }
    expect(events).toHaveLength(6);
    // By start instant: each event in Madrid (UTC+1/+2) starts 6 hours before New York's (UTC-5/-4).
    expect(events.map((e) => `${providerOf(e.id)} ${e.title}`)).toEqual([
      'madrid Pantomima Full',
      'json Pantomima Full',
      'madrid Camela en concierto',
      'json Camela en concierto',
      'madrid Los Morancos',
      'json Los Morancos',
    ]);

    const metrics = await eventually(
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
        return /event_search_data_age_seconds\{provider="json"\}/.test(text) ? text : undefined;
      },
      10_000,
      'per-provider freshness on /metrics',
    );
    for (const provider of ['madrid', 'json']) {
      expect(metrics).toMatch(
        new RegExp(
          `event_search_last_successful_ingest_timestamp_seconds\\{provider="${provider}"\\} [1-9]`,
        ),
      );
      expect(metrics).toMatch(
        new RegExp(`event_search_data_age_seconds\\{provider="${provider}"\\} \\d`),
      );
    }
  }, 40_000);

  it("compares instants with each event's instants in its provider's zone, wall clocks as written", async () => {
    // Camela is 21:00-22:00 on 2021-06-30 for both: 19:00Z-20:00Z in Madrid (CEST), 01:00Z-02:00Z
    // the next day in New York (EDT).
    expect(await served('starts_at=2021-06-30T19:00:00Z&ends_at=2021-06-30T20:00:00Z')).toEqual([
      'madrid Camela en concierto',
    ]);
    expect(
      await served('starts_at=2021-06-30T21:00:00-04:00&ends_at=2021-06-30T22:00:00-04:00'),
    ).toEqual(['json Camela en concierto']);
    expect(await served('starts_at=2021-06-30T19:00:00Z&ends_at=2021-07-01T02:00:00Z')).toEqual([
      'madrid Camela en concierto',
      'json Camela en concierto',
    ]);
    // Without offsets: 21:00-22:00 where each event happens, so both.
    expect(await served('starts_at=2021-06-30T21:00:00&ends_at=2021-06-30T22:00:00')).toEqual([
      'madrid Camela en concierto',
      'json Camela en concierto',
    ]);
    // Mixed: from an instant (Madrid's start) to a wall-clock end.
    expect(await served('starts_at=2021-06-30T19:30:00Z&ends_at=2021-06-30T22:00:00')).toEqual([
      'json Camela en concierto',
    ]);
  }, 20_000);
});
