/**
 * Per-client rate limiting with koa-ratelimit (memory driver): each client IP may make `max`
 * requests per `windowMs` on this replica; beyond that it gets a 429 in the contract's error
 * envelope with `Retry-After` (whole seconds, at least 1).
 *
 * - The client is `ctx.ip`. Behind the ingress `app.proxy` is on and `app.maxIpsCount` is the number
 *   of trusted proxy hops, so the address is read from the right of X-Forwarded-For (the one the
 *   ingress appended), never from what the client itself wrote there.
 * - The counters live in this process (a Map), so the effective limit across the Deployment is
 *   `max` times the replicas a client's requests are spread over. That is deliberate: no shared
 *   store on the hot path; the limit is a guard against one client monopolising a replica, not a
 *   quota.
 * - The Map is swept of expired windows at most once per window and capped at `maxClients`
 *   entries (oldest first out), so a flood of distinct addresses cannot grow it without bound.
 * - Probes and /metrics are exempt (a kubelet or Prometheus must never be throttled).
 */
import ratelimit from 'koa-ratelimit';
import type { Context, Middleware, Next } from 'koa';
import { envelope } from './responses.js';

export interface RateLimitOptions {
  max: number;
  windowMs: number;
  /** Paths never limited. */
  exempt?: ReadonlySet<string>;
  /** Bound on the clients tracked at once (default 100,000). */
  maxClients?: number;
  /** Called for each limited request (logs, metrics). */
  onLimited?: (ctx: Context) => void;
  /** The store; tests pass one to look inside. */
  db?: Map<string, unknown>;
}

export const RATE_LIMIT_EXEMPT: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

const NAMESPACE = 'rl';

interface Counter {
  /** Unix time (seconds, fractional) at which the window ends. */
  reset: number;
}

export function rateLimit(opts: RateLimitOptions): Middleware {
  const db = opts.db ?? new Map<string, unknown>();
  const exempt = opts.exempt ?? RATE_LIMIT_EXEMPT;
  const maxClients = opts.maxClients ?? 100_000;
  let lastSweep = Date.now();

  const sweep = (now: number) => {
    if (now - lastSweep >= opts.windowMs) {
      lastSweep = now;
      for (const [key, value] of db) {
        if ((value as Counter).reset * 1000 < now) db.delete(key);
      }
    }
    // Map iteration is in insertion order: the first keys are the oldest windows.
    if (db.size >= maxClients) {
      for (const key of db.keys()) {
        db.delete(key);
        if (db.size < maxClients) break;
      }
    }
  };

  const limiter = ratelimit({
    driver: 'memory',
    db,
    namespace: NAMESPACE,
    duration: opts.windowMs,
    max: opts.max,
    id: (ctx) => ctx.ip || false,
    disableHeader: true,
    whitelist: (ctx) => exempt.has(ctx.path),
    onLimited: (ctx) => {
      const counter = db.get(`${NAMESPACE}:${ctx.ip}`) as Counter | undefined;
      const seconds = counter ? Math.ceil(counter.reset - Date.now() / 1000) : 1;
      ctx.set('Retry-After', String(Math.max(1, seconds)));
      ctx.set('Cache-Control', 'no-store');
      ctx.body = envelope(
        'rate_limited',
        `Too many requests from this client (at most ${opts.max} per ${opts.windowMs / 1000} s); retry after the delay in Retry-After`,
      );
      opts.onLimited?.(ctx);
    },
  });

  return async (ctx: Context, next: Next) => {
    sweep(Date.now());
    await limiter(ctx, next);
  };
}
