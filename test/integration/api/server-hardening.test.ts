/**
 * The HTTP server's own bounds over real sockets (src/api/server.ts): slow headers (slowloris),
 * slow bodies, idle keep-alive connections, oversized headers. Short bounds so the test is quick.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Server } from 'node:http';
import { answeringNoEvents, appWith } from '../../support/app.js';
import { listen, portOf } from '../../../src/api/http/server.js';
import { parseResponse } from './raw-http.js';

let server: Server;
let port: number;

beforeAll(async () => {
  const app = appWith(
    { RATE_LIMIT_ENABLED: 'false' },
    {
      cache: answeringNoEvents('hit'),
    },
  );
  server = await listen(app.callback(), {
    port: 0,
    limits: {
      headersTimeoutMs: 400,
      requestTimeoutMs: 800,
      // At least 2 s: node's client ignores a Keep-Alive hint of timeout=1 or less.
      keepAliveTimeoutMs: 2_000,
      maxHeaderBytes: 4_096,
    },
  });
  port = portOf(server);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Opens a socket; resolves with everything received and when the server closed it. */
function open(): {
  socket: Socket;
  done: Promise<{ data: Buffer; closedAfterMs: number }>;
} {
  const started = Date.now();
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  const done = new Promise<{ data: Buffer; closedAfterMs: number }>((resolve) => {
    socket.on('error', () => undefined);
    socket.on('close', () =>
      resolve({ data: Buffer.concat(chunks), closedAfterMs: Date.now() - started }),
    );
  });
  return { socket, done };
}

describe('the HTTP server bounds', () => {
  it('answers 408 in the envelope and closes when the headers come too slowly', async () => {
    const { socket, done } = open();
    socket.write('GET /search HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    // A header line every 150 ms, never finishing: the slowloris pattern.
    const drip = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 150);
    try {
      const { data, closedAfterMs } = await done;
      const res = parseResponse(data);
      expect(res.status).toBe(408);
      expect(res.body).toEqual({
        error: { code: 'request_timeout', message: 'Request Timeout' },
        data: null,
      });
      // headersTimeout 400 ms, checked every 400 ms at most.
      expect(closedAfterMs).toBeGreaterThanOrEqual(350);
      expect(closedAfterMs).toBeLessThan(1_500);
    } finally {
      clearInterval(drip);
    }
  });

  it('closes a connection whose request body never completes', async () => {
    const { socket, done } = open();
    socket.write(
      'POST /search HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(10),
    );
    const { closedAfterMs } = await done;
    expect(closedAfterMs).toBeLessThan(2_500);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const { socket, done } = open();
    socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const { data, closedAfterMs } = await done;
    expect(parseResponse(data).status).toBe(200);
    expect(closedAfterMs).toBeGreaterThanOrEqual(1_950);
    expect(closedAfterMs).toBeLessThan(4_500); // node allows up to a second more
  });

  it('serves a second request on a keep-alive connection idle longer than the headers timeout', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ status: number; localPort: number }>((resolve, reject) => {
        const req = request({ port, host: '127.0.0.1', path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, localPort: req.socket?.localPort ?? -1 }),
          );
        });
        req.on('error', reject);
        req.end();
      });
    try {
      const first = await get();
      await sleep(700); // > headersTimeout, < keepAliveTimeout
      const second = await get();
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(second.localPort).toBe(first.localPort); // the same connection
    } finally {
      agent.destroy();
    }
  });

  it('answers 431 in the envelope to headers above maxHeaderSize', async () => {
    const { socket, done } = open();
    socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(5_000)}\r\n\r\n`);
    const res = parseResponse((await done).data);
    expect(res.status).toBe(431);
    expect(res.headers.connection).toBe('close');
    expect(res.body).toEqual({
      error: { code: 'headers_too_large', message: 'Request Header Fields Too Large' },
      data: null,
    });
  });
});
