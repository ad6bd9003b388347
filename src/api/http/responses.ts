/**
 * The one place for the contract's error envelope and the refusals built on it: 400 (bad
 * request), 414, 429 (rate limited) and 503 (Elasticsearch unavailable, overloaded) with
 * `Retry-After`, and the raw form node's HTTP parser errors are answered in (src/api/http/server.ts).
 */
import { STATUS_CODES } from 'node:http';
import type { Context } from 'koa';

/** The contract's error envelope. */
export interface ErrorEnvelope {
  error: { code: string; message: string };
  data: null;
}

export function envelope(code: string, message: string): ErrorEnvelope {
  return { error: { code, message }, data: null };
}

export interface Refusal {
  status: number;
  code: string;
  message: string;
  /** Whole seconds the client should wait (sets `Retry-After`). */
  retryAfterSeconds?: number;
  /** `Cache-Control: no-store` (default true: a refusal is about this moment). */
  noStore?: boolean;
}

/** Answers `ctx` with a refusal in the envelope. */
export function refuse(ctx: Context, refusal: Refusal): void {
  ctx.status = refusal.status;
  if (refusal.retryAfterSeconds !== undefined) {
    ctx.set('Retry-After', String(refusal.retryAfterSeconds));
  }
  if (refusal.noStore ?? true) ctx.set('Cache-Control', 'no-store');
  ctx.body = envelope(refusal.code, refusal.message);
}

/**
 * A whole HTTP/1.1 response for a request node's parser refused (no Koa context exists then); it
 * closes the connection and never echoes what the client sent.
 */
export function rawRefusal(status: number, code: string): string {
  const reason = STATUS_CODES[status] ?? 'Error';
  const body = JSON.stringify(envelope(code, reason));
  return (
    `HTTP/1.1 ${status} ${reason}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    'X-Content-Type-Options: nosniff\r\n' +
    'Connection: close\r\n\r\n' +
    body
  );
}
