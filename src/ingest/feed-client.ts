/**
 * Fetches the provider's feed: Node's global `fetch`, a response timeout and a body idle timeout
 * (both through an AbortSignal), and `p-retry` (exponential backoff with jitter) for what is worth
 * retrying: network errors, timeouts before the headers, 5xx and 429, honouring Retry-After.
 *
 * Only getting the response is retried. Once the body is flowing it is handed to the parser as a
 * byte stream and never buffered whole; a failure while it is read fails the run (the next
 * scheduled run fetches again).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import pRetry from 'p-retry';
import { FeedError, FeedHttpError } from './errors.js';
import type { FeedSource } from './run.js';

export interface FeedClientOptions {
  url: string;
  /** Until the response headers arrive, connection included (ms). */
  timeoutMs: number;
  /** Longest wait for the next piece of the body (ms). */
  idleTimeoutMs: number;
  /** Retries after the first attempt (0: one attempt only). */
  retries: number;
  /** First backoff delay (ms); it doubles per retry, randomised x1..x2 (jitter). */
  minRetryDelayMs?: number;
  /** Cap of a backoff delay and of a Retry-After (ms). */
  maxRetryDelayMs?: number;
  /** The body is refused once it grows past this many bytes. */
  maxBytes?: number;
  userAgent?: string;
  signal?: AbortSignal;
  /**
   * Validators of the copy the run already holds (docs/adr/0016-*.md): sent as `If-None-Match` /
   * `If-Modified-Since`; a 304 then answers `notModified` with an empty body.
   */
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  /** Called before each retry (for the run's log). */
  onRetry?: (info: { attempt: number; error: FeedError; delayHintMs: number | undefined }) => void;
}

export interface FeedResponse {
  status: number;
  contentType: string | null;
  /** Attempts it took (1 when the first one answered). */
  attempts: number;
  /** The provider answered 304 Not Modified to the validators sent (the body is empty). */
  notModified: boolean;
  /** The response's validators (null when absent). */
  etag: string | null;
  lastModified: string | null;
  /** The body, chunk by chunk; an idle timeout or lost connection surfaces as a FeedError. */
  body: AsyncIterable<Uint8Array>;
}

/** The URL without credentials or query string, safe for logs and run records. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    const query = u.search ? '?…' : '';
    return `${u.protocol}//${u.host}${u.pathname}${query}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds from `now`,
 * capped at `capMs`. Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  header: string | null,
  capMs: number,
  now = Date.now(),
): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  let ms: number;
  if (/^\d+$/.test(value)) {
    ms = Number(value) * 1000;
  } else {
    // An HTTP date names its day and month ("Wed, 21 Oct 2015 07:28:00 GMT").
    if (!/[a-z]{3}/i.test(value)) return undefined;
    const at = Date.parse(value);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), capMs);
}

const HTML_TYPES = /^\s*(text\/html|application\/xhtml\+xml)\b/i;

function networkMessage(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause;
  if (cause?.message) return cause.message;
  if (cause?.code) return cause.code;
  return e.message ?? String(err);
}

/**
 * Aborts `controller` with `error()` once `ms` pass (AbortSignal.timeout); the returned function
 * cancels that (the awaited step finished in time).
 */
function abortAfter(controller: AbortController, ms: number, error: () => FeedError): () => void {
  const timeout = AbortSignal.timeout(ms);
  const onTimeout = () => controller.abort(error());
  timeout.addEventListener('abort', onTimeout, { once: true });
  return () => timeout.removeEventListener('abort', onTimeout);
}

/**
 * Requests the feed until a 2xx arrives or the retries run out. Rejects with a FeedError whose
 * message names the URL, the cause and the number of attempts.
 */
export async function fetchFeed(options: FeedClientOptions): Promise<FeedResponse> {
  const shown = redactUrl(options.url);
  // fetch refuses URLs with credentials: they travel as a Basic Authorization header instead.
  const target = new URL(options.url);
  const headers: Record<string, string> = {
    accept: 'application/xml, text/xml;q=0.9, */*;q=0.1',
    'user-agent': options.userAgent ?? 'event-search-ingester',
  };
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username);
    const password = decodeURIComponent(target.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  if (options.ifNoneMatch) headers['if-none-match'] = options.ifNoneMatch;
  if (options.ifModifiedSince) headers['if-modified-since'] = options.ifModifiedSince;
  const url = target.toString();
  /** Never let the raw URL (credentials, tokens) into a message. */
  const scrub = (text: string) => text.split(options.url).join(shown).split(url).join(shown);
  const maxDelay = options.maxRetryDelayMs ?? 30_000;
  let attempts = 0;
  /** Earliest time the next attempt may start (from a Retry-After). */
  let notBefore = 0;

  const attempt = async (): Promise<FeedResponse> => {
    const wait = notBefore - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal: options.signal });
    attempts++;
    // Aborted by the caller (options.signal), by the response timeout, or by the body's idle
    // timeout (readBody); the fetch rejects, or the body stream errors, with the reason.
    const controller = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([controller.signal, options.signal])
      : controller.signal;
    const headersArrived = abortAfter(
      controller,
      options.timeoutMs,
      () =>
        new FeedError('timeout', `no response from ${shown} within ${options.timeoutMs} ms`, true),
    );
    let res: Response;
    try {
      res = await fetch(url, { signal, redirect: 'follow', headers });
    } catch (err) {
      if (err instanceof FeedError) throw err;
      if (options.signal?.aborted) {
        throw new FeedError('aborted', `fetching ${shown} was cancelled`, false, { cause: err });
      }
      throw new FeedError(
        'network',
        `could not fetch ${shown}: ${scrub(networkMessage(err))}`,
        true,
        {
          cause: err,
        },
      );
    } finally {
      headersArrived();
    }

    const validators = {
      etag: res.headers.get('etag'),
      lastModified: res.headers.get('last-modified'),
    };
    if (res.status === 304 && (options.ifNoneMatch || options.ifModifiedSince)) {
      await res.body?.cancel().catch(() => undefined);
      return {
        status: 304,
        contentType: null,
        attempts,
        notModified: true,
        ...validators,
        body: (async function* () {})(),
      };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      const retryable = res.status >= 500 || res.status === 429;
      const retryAfterMs = retryable
        ? parseRetryAfter(res.headers.get('retry-after'), maxDelay)
        : undefined;
      throw new FeedHttpError(
        res.status,
        `the provider answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''} for ${shown}`,
        retryable,
        retryAfterMs,
      );
    }
    const contentType = res.headers.get('content-type');
    if (contentType && HTML_TYPES.test(contentType)) {
      await res.body?.cancel().catch(() => undefined);
      throw new FeedError(
        'content_type',
        `the provider answered ${res.status} with Content-Type ${JSON.stringify(contentType)} (an HTML page, not the XML feed) for ${shown}`,
      );
    }
    return {
      status: res.status,
      contentType,
      attempts,
      notModified: false,
      ...validators,
      body: readBody(res, controller, options, shown, scrub),
    };
  };

  try {
    return await pRetry(attempt, {
      retries: options.retries,
      factor: 2,
      minTimeout: options.minRetryDelayMs ?? 500,
      maxTimeout: maxDelay,
      randomize: true,
      signal: options.signal,
      shouldRetry: ({ error }) => error instanceof FeedError && error.retryable,
      onFailedAttempt: ({ error, retriesLeft }) => {
        if (!(error instanceof FeedError) || !error.retryable || retriesLeft <= 0) return;
        const hint = error instanceof FeedHttpError ? error.retryAfterMs : undefined;
        // The next attempt waits for the backoff and, when longer, for the Retry-After.
        notBefore = hint === undefined ? 0 : Date.now() + hint;
        options.onRetry?.({ attempt: attempts, error, delayHintMs: hint });
      },
    });
  } catch (err) {
    const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (err instanceof FeedHttpError) {
      throw new FeedHttpError(
        err.status,
        `${err.message} (${tries})`,
        err.retryable,
        err.retryAfterMs,
      );
    }
    if (err instanceof FeedError) {
      throw new FeedError(err.code, `${err.message} (${tries})`, err.retryable, {
        cause: err.cause,
      });
    }
    if (options.signal?.aborted) {
      throw new FeedError('aborted', `fetching ${shown} was cancelled`, false, { cause: err });
    }
    throw err;
  }
}

/** The body as chunks, with the idle timeout and the size cap applied. */
async function* readBody(
  res: Response,
  controller: AbortController,
  options: FeedClientOptions,
  shown: string,
  scrub: (text: string) => string,
): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  let bytes = 0;
  // The idle timeout counts only while a read waits for the next piece, never while the consumer
  // works on the last one. One timer for the whole body, restarted (`refresh`) as each read
  // begins, rather than an `AbortSignal.timeout` per chunk: a 90 MB feed arrives in about 3,000
  // chunks (docs/adr/0016-*.md, seventh pass). A timer that fires between reads has nothing to
  // stop; `refresh` makes it run again for the next read.
  let waiting = false;
  const idle = setTimeout(() => {
    if (!waiting) return;
    controller.abort(
      new FeedError(
        'idle_timeout',
        `the body of ${shown} stalled: nothing received for ${options.idleTimeoutMs} ms after ${bytes} bytes`,
      ),
    );
  }, options.idleTimeoutMs);
  idle.unref();
  try {
    for (;;) {
      waiting = true;
      idle.refresh();
      let next: Awaited<ReturnType<typeof reader.read>>;
      try {
        next = await reader.read();
      } catch (err) {
        if (err instanceof FeedError) throw err;
        if (controller.signal.reason instanceof FeedError) throw controller.signal.reason;
        if (options.signal?.aborted) {
          throw new FeedError('aborted', `reading ${shown} was cancelled`, false, { cause: err });
        }
        throw new FeedError(
          'network',
          `the connection to ${shown} broke after ${bytes} bytes of the body: ${scrub(networkMessage(err))}`,
          false,
          { cause: err },
        );
      } finally {
        waiting = false;
      }
      if (next.done) return;
      bytes += next.value.byteLength;
      if (options.maxBytes !== undefined && bytes > options.maxBytes) {
        throw new FeedError(
          'too_large',
          `the body of ${shown} is larger than ${options.maxBytes} bytes (PROVIDER_MAX_FEED_BYTES)`,
        );
      }
      yield next.value;
    }
  } finally {
    clearTimeout(idle);
    // Stops the download when the consumer gives up early (parse error, cancellation).
    await reader.cancel().catch(() => undefined);
  }
}

/** The provider over HTTP as the run's feed source. */
export function httpFeedSource(
  options: Omit<FeedClientOptions, 'signal' | 'ifNoneMatch' | 'ifModifiedSince'>,
): FeedSource {
  return {
    open: (signal, held) =>
      fetchFeed({
        ...options,
        ...(signal && { signal }),
        ...(held?.etag && { ifNoneMatch: held.etag }),
        ...(held?.lastModified && { ifModifiedSince: held.lastModified }),
      }),
  };
}
