/**
 * The HTTP server around the Koa app, and its graceful shutdown:
 * readiness fails first, the server stops accepting, in-flight requests finish, keep-alive sockets
 * are closed, and whatever is still open after the bound is cut.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../observability/logger.js';
import type { Lifecycle } from '../app.js';
import { rawRefusal } from './responses.js';

/** Bounds on what a client may send and how slowly (HTTP_* settings). */
export interface HttpLimits {
  /** Whole request received within this (node's requestTimeout; 408 after). */
  requestTimeoutMs: number;
  /** Request headers received within this (slowloris bound; 408 after). */
  headersTimeoutMs: number;
  /** Idle keep-alive connections closed after this. */
  keepAliveTimeoutMs: number;
  /** Request line plus headers above this get 431. */
  maxHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  requestTimeoutMs: 15_000,
  headersTimeoutMs: 10_000,
  // Longer than a typical load balancer's idle timeout, so the balancer closes first.
  keepAliveTimeoutMs: 65_000,
  maxHeaderBytes: 16_384,
};

/** What node's HTTP parser reports, mapped to a status and an envelope code. */
function clientErrorAnswer(code: string | undefined): { status: number; code: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout' };
    default:
      return { status: 400, code: 'bad_request' };
  }
}

/**
 * Answers a request node's HTTP parser refused (malformed, headers too large, too slow) in the
 * error envelope, then closes the connection. Never echoes the parser's message (it can quote the
 * raw bytes received).
 */
function onClientError(err: Error & { code?: string }, socket: Socket): void {
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const { status, code } = clientErrorAnswer(err.code);
  socket.end(rawRefusal(status, code));
}

export async function listen(
  handler: RequestListener,
  opts: { port: number; host?: string; limits?: Partial<HttpLimits> },
): Promise<Server> {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...opts.limits };
  const server = createServer(
    {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often node checks the two timeouts above (its default, 30 s, would make them lax).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    handler,
  );
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.on('clientError', onClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

export interface ShutdownOptions {
  lifecycle: Lifecycle;
  /** Time between failing readiness and closing the listener (lets the balancer notice). */
  delayMs: number;
  /** Bound on the drain; connections still open then are destroyed. */
  timeoutMs: number;
  logger?: Logger;
}

export interface ShutdownResult {
  /** True when every request finished before the bound. */
  drained: boolean;
  durationMs: number;
}

/** Drains `server` as described above. Resolves once it is fully closed (within the bound). */
export async function shutdownGracefully(
  server: Server,
  opts: ShutdownOptions,
): Promise<ShutdownResult> {
  const started = Date.now();
  opts.lifecycle.shuttingDown = true;
  opts.logger?.info({ delay_ms: opts.delayMs }, 'shutdown: readiness now fails');
  if (opts.delayMs > 0) await sleep(opts.delayMs);

  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  opts.logger?.info('shutdown: listener closed, draining in-flight requests');
  // Keep-alive sockets become idle as their last response ends: close them as they do.
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 50);
  const remaining = Math.max(0, opts.timeoutMs - (Date.now() - started));
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), remaining);
  });
  try {
    const outcome = await Promise.race([closed.then(() => 'closed' as const), bound]);
    if (outcome === 'timeout') {
      opts.logger?.warn('shutdown: bound reached, closing the remaining connections');
      server.closeAllConnections();
      await closed;
    }
    const result = { drained: outcome === 'closed', durationMs: Date.now() - started };
    opts.logger?.info({ ...result }, 'shutdown: HTTP server closed');
    return result;
  } finally {
    clearInterval(sweeper);
    clearTimeout(timer);
  }
}
