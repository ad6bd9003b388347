/** Types of koa-ratelimit 6 (the package ships none), for the options this service uses. */
declare module 'koa-ratelimit' {
  import type { Context, Middleware } from 'koa';

  export interface RateLimitOptions {
    driver: 'memory' | 'redis';
    /** memory: the Map the counters live in. */
    db: Map<string, unknown> | unknown;
    /** Window length in milliseconds. */
    duration?: number;
    max?: number;
    /** Who is counted; `false` skips limiting for the request. */
    id?: (ctx: Context) => string | false;
    namespace?: string;
    errorMessage?: string;
    disableHeader?: boolean;
    headers?: { remaining?: string; reset?: string; total?: string };
    whitelist?: (ctx: Context) => boolean | Promise<boolean>;
    blacklist?: (ctx: Context) => boolean | Promise<boolean>;
    onLimited?: (ctx: Context) => void;
    status?: number;
    throw?: boolean;
  }

  export default function ratelimit(options: RateLimitOptions): Middleware;
}
