/**
 * Per-client rate limiting with rate-limiter-flexible (RateLimiterMemory): each client IP may make
 * `max` requests per `windowMs` on this replica; beyond that it gets a 429 in the contract's error
 * envelope with `Retry-After` (whole seconds, at least 1).
 *
 * - The client is `ctx.ip`. Behind the ingress `app.proxy` is on and `app.maxIpsCount` is the number
 *   of trusted proxy hops, so the address is read from the right of X-Forwarded-For (the one the
 *   ingress appended), never from what the client itself wrote there.
 * - The counters live in this process, so the effective limit across the Deployment is `max` times
 *   the replicas a client's requests are spread over. That is deliberate: no shared store on the
 *   hot path; the limit is a guard against one client monopolising a replica, not a quota.
 * - A counter is dropped when its window ends; at most `maxClients` clients are tracked at once
 *   (an lru-cache of the client keys; the least recently seen is forgotten first), so a flood of
 *   distinct addresses cannot grow the store without bound.
 * - Probes and /metrics are exempt (a kubelet or Prometheus must never be throttled).
 */
import type { Context, Middleware, Next } from 'koa';
import { LRUCache } from 'lru-cache';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { refuse } from './responses.js';

export interface RateLimitOptions {
  max: number;
  windowMs: number;
  /** Paths never limited. */
  exempt?: ReadonlySet<string>;
  /** Bound on the clients tracked at once (default 100,000). */
  maxClients?: number;
  /** Called for each limited request (logs, metrics). */
  onLimited?: (ctx: Context) => void;
}

export const RATE_LIMIT_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

/** The middleware, and the clients it tracks (for tests: their count and who is in). */
export type RateLimitMiddleware = Middleware & {
  clients: Pick<LRUCache<string, true>, 'has' | 'size' | 'purgeStale'>;
};

export function rateLimit(opts: RateLimitOptions): RateLimitMiddleware {
  const exempt = opts.exempt ?? RATE_LIMIT_EXEMPT;
  const limiter = new RateLimiterMemory({ points: opts.max, duration: opts.windowMs / 1000 });
  const clients = new LRUCache<string, true>({
    max: opts.maxClients ?? 100_000,
    ttl: opts.windowMs,
    // A client pushed out forgets its counter too.
    dispose: (_value, key, reason) => {
      if (reason === 'evict') void limiter.delete(key);
    },
  });

  const middleware = async (ctx: Context, next: Next) => {
    const client = ctx.ip;
    if (!client || exempt.has(ctx.path)) return next();
    if (!clients.has(client)) clients.set(client, true);
    try {
      await limiter.consume(client);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      refuse(ctx, {
        status: 429,
        code: 'rate_limited',
        message: `Too many requests from this client (at most ${opts.max} per ${opts.windowMs / 1000} s); retry after the delay in Retry-After`,
        retryAfterSeconds: Math.max(1, Math.ceil(err.msBeforeNext / 1000)),
      });
      opts.onLimited?.(ctx);
      return;
    }
    return next();
  };
  return Object.assign(middleware, { clients });
}
