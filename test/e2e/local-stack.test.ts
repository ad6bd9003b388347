/**
 * The whole system as real processes: the provider simulator, the ingest entry point run three
 * times (one per sample fetch), and the API, queried over HTTP. Then the provider dies, and the
 * answers must not change.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { freePort, node, runToEnd, stop, eventually, type Proc } from '../support/processes.js';

const store = testStoreEnv('e2e-stack');
const client = testClient(store);
let sim: Proc;
let api: Proc;
let simPort: number;
let apiPort: number;
let env: NodeJS.ProcessEnv;

const WINDOW = 'starts_at=2021-02-01T00:00:00Z&ends_at=2022-07-03T00:00:00Z';

interface SearchBody {
  data: {
    events: {
      id: string;
      title: string;
      end_time: string | null;
      min_price: number | null;
      max_price: number | null;
    }[];
  } | null;
  error: unknown;
}

async function search(query: string): Promise<{ status: number; body: SearchBody }> {
  const res = await fetch(`http://127.0.0.1:${apiPort}/search?${query}`);
  return { status: res.status, body: (await res.json()) as SearchBody };
}

beforeAll(async () => {
  simPort = await freePort();
  apiPort = await freePort();
  env = {
    ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
    ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
    PROVIDER_URL: `http://127.0.0.1:${simPort}/feed`,
    PORT: String(apiPort),
    FRESHNESS_POLL_MS: '200',
  };
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

describe('local stack as real processes', () => {
  it('ingests the three sample fetches, each run exiting 0', async () => {
    // The indices come from the bootstrap, as in a deployment (the ingester only checks them).
    const boot = await runToEnd('bootstrap', env);
    expect({ code: boot.code, output: boot.code === 0 ? '' : boot.output }).toEqual({
      code: 0,
      output: '',
    });
    for (let i = 1; i <= 3; i++) {
      const run = await runToEnd('ingest', env);
      expect({ run: i, code: run.code, output: run.code === 0 ? '' : run.output }).toEqual({
        run: i,
        code: 0,
        output: '',
      });
    }
  }, 90_000);

  it('serves the sample example over HTTP', async () => {
    api = node('api', env);
    const { status, body } = await eventually(
      async () => {
        const r = await search(WINDOW);
        return r.status === 200 ? r : undefined;
      },
      20_000,
      'the API to answer /search',
    );
    expect(status).toBe(200);
    expect(body.error).toBeNull();
    const byTitle = Object.fromEntries((body.data?.events ?? []).map((e) => [e.title, e]));
    expect(Object.keys(byTitle).sort()).toEqual([
      'Camela en concierto',
      'Los Morancos',
      'Pantomima Full',
    ]);
    expect(byTitle['Camela en concierto']).toMatchObject({
      end_time: '21:30:00',
      min_price: 20,
      max_price: 30,
    });
    expect(byTitle['Los Morancos']).toMatchObject({
      end_time: '21:00:00',
      min_price: 65,
      max_price: 65,
    });
    expect(byTitle['Pantomima Full']).toMatchObject({ min_price: 55, max_price: 55 });
  }, 30_000);

  it('answers exactly the same after the provider is killed', async () => {
    const before = [await search(WINDOW), await search('')];
    // What is compared is a real answer: the three sample events, not two equal errors.
    expect(before.map((r) => [r.status, r.body.data?.events.length])).toEqual([
      [200, 3],
      [200, 3],
    ]);
    await stop(sim, 'SIGKILL');
    // The provider is really gone: its port refuses connections.
    await expect(fetch(`http://127.0.0.1:${simPort}/healthz`)).rejects.toThrow();
    // A run against the dead provider fails clearly, naming the feed, and changes nothing.
    const failed = await runToEnd('ingest', { ...env, PROVIDER_RETRIES: '0' });
    expect(failed.code).toBe(1);
    expect(failed.output).toMatch(/ingest run failed/);
    expect(failed.output).toMatch(/ECONNREFUSED|connect|fetch failed|feed/i);
    const after = [await search(WINDOW), await search('')];
    expect(after).toEqual(before);
  }, 60_000);
});
