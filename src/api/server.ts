/**
 * The HTTP server around the Koa app, and its graceful shutdown:
 * readiness fails first, the server stops accepting, in-flight requests finish, keep-alive sockets
 * are closed, and whatever is still open after the bound is cut.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../observability/logger.js';
import type { Lifecycle } from './app.js';

export async function listen(
  handler: RequestListener,
  opts: { port: number; host?: string },
): Promise<Server> {
  const server = createServer(handler);
  // Longer than a typical load balancer's idle timeout, so the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
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
