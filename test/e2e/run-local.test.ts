/**
 * `make run`'s script: it brings the stack up with data flowing, and Ctrl-C (SIGINT to its process
 * group, as a terminal sends it) stops everything it started.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { eventually, freePort, portOpen, start, type Proc } from '../support/processes.js';

const store = testStoreEnv('e2e-run');
const client = testClient(store);
let stack: Proc | undefined;

afterAll(async () => {
  if (stack?.child.pid) {
    try {
      process.kill(-stack.child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await dropPrefix(client, store.ES_INDEX_PREFIX);
  await client.close();
});

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('make run (scripts/run-local.sh)', () => {
  it('serves /search with the sample events, and Ctrl-C leaves nothing running', async () => {
    const apiPort = await freePort();
    const simPort = await freePort();
    stack = start('bash', ['scripts/run-local.sh'], {
      ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
      ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
      PORT: String(apiPort),
      SIM_PORT: String(simPort),
      INGEST_INTERVAL: '2',
      FRESHNESS_POLL_MS: '200',
    });
    const pgid = stack.child.pid as number;

    const titles = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/search`);
        if (!res.ok) return undefined;
        const body = (await res.json()) as { data: { events: { title: string }[] } };
        return body.data.events.length >= 3 ? body.data.events.map((e) => e.title) : undefined;
      },
      60_000,
      `the API on ${apiPort} to serve ingested events\n${stack.output()}`,
    );
    expect(titles).toEqual(
      expect.arrayContaining(['Camela en concierto', 'Pantomima Full', 'Los Morancos']),
    );

    process.kill(-pgid, 'SIGINT');
    const exit = await stack.exited;
    expect(exit.code === 130 || exit.signal === 'SIGINT').toBe(true);
    await eventually(
      async () => (groupAlive(pgid) ? undefined : true),
      15_000,
      'every process of the stack to exit',
    );
    expect(await portOpen(apiPort)).toBe(false);
    expect(await portOpen(simPort)).toBe(false);
    expect(stack.output()).toContain('nothing left running');
  }, 120_000);
});
