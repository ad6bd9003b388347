/**
 * Graceful shutdown over real sockets: readiness fails first, the listener closes, in-flight
 * requests finish, keep-alive sockets are closed, and the whole thing is bounded.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import type { Lifecycle } from '../../../src/api/app.js';
import { appWith } from '../../support/app.js';
import {
  serializeEvents,
  etagOf,
  type SearchAnswer,
} from '../../../src/api/search/search-cache.js';
import { listen, portOf, shutdownGracefully } from '../../../src/api/http/server.js';

/** An app whose /search answers only when the test lets it. */
function slowApp() {
  const lifecycle: Lifecycle = { shuttingDown: false };
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const body = serializeEvents([]);
  const app = appWith(
    { RATE_LIMIT_ENABLED: 'false' },
    {
      cache: {
        answer: async (): Promise<SearchAnswer> => {
          await gate;
          return { kind: 'buffer', body, etag: etagOf(body), source: 'miss' };
        },
      },
      lifecycle,
    },
  );
  return { app, lifecycle, release };
}

function get(
  port: number,
  path: string,
  agent?: Agent,
): Promise<{ res: IncomingMessage; body: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    let socket: Socket | undefined;
    const req = request({ port, path, agent, host: '127.0.0.1' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ res, body, socket: socket as Socket }));
    });
    req.on('socket', (s) => (socket = s));
    req.on('error', reject);
    req.end();
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('shutdownGracefully', () => {
  it('fails readiness, stops accepting, drains in-flight requests and closes idle sockets', async () => {
    const { app, lifecycle, release } = slowApp();
    const server = await listen(app.callback(), { port: 0 });
    const port = portOf(server);
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      // An idle keep-alive connection...
      const first = await get(port, '/healthz', agent);
      expect(first.res.statusCode).toBe(200);
      const idleSocket = first.socket;
      expect(idleSocket.destroyed).toBe(false);
      const idleClosed = new Promise<void>((resolve) => idleSocket.once('close', () => resolve()));
      // ...and a request in flight.
      const inFlight = get(port, '/search');
      await sleep(50);

      const started = Date.now();
      const shutdown = shutdownGracefully(server, { lifecycle, delayMs: 200, timeoutMs: 5_000 });

      // During the delay the listener still accepts, but readiness fails.
      const ready = await get(port, '/readyz');
      expect(ready.res.statusCode).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: 'shutting_down' });
      expect(ready.res.headers.connection).toBe('close');

      await sleep(250);
      expect(await refused(port)).toBe(true);
      await idleClosed; // the idle keep-alive socket was closed by the server

      release();
      const done = await inFlight;
      expect(done.res.statusCode).toBe(200);
      expect(JSON.parse(done.body)).toEqual({ data: { events: [] }, error: null });

      const result = await shutdown;
      expect(result.drained).toBe(true);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
      release();
      if (server.listening) server.close();
    }
  });

  it('cuts the connections still open when the bound is reached', async () => {
    const { app, lifecycle, release } = slowApp();
    const server = await listen(app.callback(), { port: 0 });
    const port = portOf(server);
    try {
      const stuck = get(port, '/search').then(
        () => 'answered',
        (err: Error) => err.message,
      );
      await sleep(50);
      const started = Date.now();
      const result = await shutdownGracefully(server, { lifecycle, delayMs: 0, timeoutMs: 300 });
      const elapsed = Date.now() - started;
      expect(result.drained).toBe(false);
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1_000);
      expect(await stuck).toBe('socket hang up');
    } finally {
      release();
    }
  });
});
