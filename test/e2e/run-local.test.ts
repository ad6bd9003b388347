/**
 * `make run`'s script: it brings the stack up with data flowing, says it runs only once /healthz
 * answered, says when the first ingest finished, and Ctrl-C (SIGINT to its process group, as a
 * terminal sends it) stops everything it started.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from '@jest/globals';
import { dropPrefix, testClient, testStoreEnv } from '../support/es.js';
import { eventually, freePort, portOpen, start, type Proc } from '../support/processes.js';

const store = testStoreEnv('e2e-run');
const RUNNING = 'event-search is running (/healthz answered)';
const FIRST_INGEST = /first ingest run finished: the index holds (\d+) events/;
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
    const proc = stack;

    // The healthy message, and when it is there, /healthz answers.
    await eventually(
      async () => (proc.output().includes(RUNNING) ? true : undefined),
      60_000,
      `the script to say it runs\n${proc.output()}`,
    );
    expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    // Then the first ingest run, with what the index holds (the simulator's sample events).
    const count = await eventually(
      async () => FIRST_INGEST.exec(proc.output())?.[1],
      60_000,
      `the first-ingest line\n${proc.output()}`,
    );
    expect(Number(count)).toBeGreaterThanOrEqual(3);
    expect(proc.output().indexOf(RUNNING)).toBeLessThan(proc.output().search(FIRST_INGEST));
    // Not a terminal: the processes' log lines stay JSON.
    expect(proc.output()).toMatch(/^\{"level":"info",.*"name":"api"/m);

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

    // Two providers play: the XML feed ("primary") and the same events as NDJSON ("json"). The
    // same base event and event ids give two events with distinct ids, both served, in order.
    type Served = { id: string; title: string; start_date: string; start_time: string | null };
    const both = await eventually(
      async () => {
        const res = await fetch(`http://127.0.0.1:${apiPort}/search`);
        if (!res.ok) return undefined;
        const events = ((await res.json()) as { data: { events: Served[] } }).data.events;
        const camela = events.filter((e) => e.title === 'Camela en concierto');
        return camela.length === 2 ? events : undefined;
      },
      60_000,
      `both providers' events to be served\n${stack.output()}`,
    );
    const camela = both.filter((e) => e.title === 'Camela en concierto');
    expect(new Set(camela.map((e) => e.id)).size).toBe(2);
    expect(camela[0]).toMatchObject({ start_date: camela[1]?.start_date });
    // The sample events are days apart: whatever the zone, the answers follow their wall clocks.
    const wall = both.map((e) => `${e.start_date}T${e.start_time ?? ''}`);
    expect(wall).toEqual([...wall].sort());
    // make run's zones: "primary" in Europe/Madrid, "json" in America/New_York. Camela starts at
    // 21:00 on both wall clocks: 19:00Z in Madrid, 01:00Z the next day in New York. A window of
    // instants finds only Madrid's, and the answers put it first (ordered by start instant).
    const res = await fetch(
      `http://127.0.0.1:${apiPort}/search?starts_at=2021-06-30T19:00:00Z&ends_at=2021-06-30T20:00:00Z`,
    );
    const inMadrid = ((await res.json()) as { data: { events: Served[] } }).data.events;
    expect(inMadrid.map((e) => e.title)).toEqual(['Camela en concierto']);
    expect(camela.map((e) => e.id)).toEqual([
      inMadrid[0]?.id,
      camela.find((e) => e.id !== inMadrid[0]?.id)?.id,
    ]);
    expect(proc.output()).toMatch(/"provider":"json".*"msg":"events written to Elasticsearch"/);

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

  it('never says it runs when the API does not answer /healthz, and stops everything (readable logs when asked)', async () => {
    const apiPort = await freePort();
    const simPort = await freePort();
    // Something that accepts connections on the API's port and never speaks HTTP: the API cannot
    // listen there, and /healthz never answers.
    const sockets = new Set<Socket>();
    const squatter: Server = createServer((socket) => {
      sockets.add(socket);
      socket.resume(); // read (and drop) requests, so a client's close ends the socket
    });
    await new Promise<void>((resolve) => squatter.listen(apiPort, '127.0.0.1', resolve));
    try {
      const failing = start('bash', ['scripts/run-local.sh'], {
        ELASTICSEARCH_URL: store.ELASTICSEARCH_URL,
        ES_INDEX_PREFIX: store.ES_INDEX_PREFIX,
        PORT: String(apiPort),
        SIM_PORT: String(simPort),
        INGEST_INTERVAL: '60',
        HEALTH_TIMEOUT: '20',
        // What a terminal gets: one readable line per record (time, level, process, message).
        RUN_LOG_FORMAT: 'pretty',
      });
      const exit = await failing.exited;
      expect(exit.code).toBe(1);
      expect(failing.output()).not.toContain('is running');
      expect(failing.output()).toMatch(
        /the API (exited before answering|did not answer) \/healthz/,
      );
      expect(failing.output()).toContain('nothing left running');
      expect(failing.output()).toMatch(
        /^\[\d\d:\d\d:\d\d\.\d{3}\] \S*INFO\S* \(provider-sim\): \S*provider simulator listening/m,
      );
      expect(failing.output()).not.toMatch(/^\{"level"/m);
      await eventually(
        async () => (groupAlive(failing.child.pid as number) ? undefined : true),
        15_000,
        'every process of the stack to exit',
      );
      expect(await portOpen(simPort)).toBe(false);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => squatter.close(() => resolve()));
    }
  }, 120_000);
});
