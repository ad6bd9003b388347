/**
 * Errors of reading the provider's feed. Each carries a stable `code` (for logs, metrics and
 * tests) and a message precise enough to act on without reading the code.
 */

export type FeedErrorCode =
  /** Connection refused, reset, DNS failure... before or while reading the body. */
  | 'network'
  /** No response headers within the response timeout. */
  | 'timeout'
  /** The body stopped arriving for longer than the idle timeout. */
  | 'idle_timeout'
  /** A non-2xx status. */
  | 'http_status'
  /** A 2xx whose Content-Type says it is not the XML feed (an HTML page). */
  | 'content_type'
  /** The body is larger than allowed. */
  | 'too_large'
  /** An empty body, or one without any XML element. */
  | 'empty'
  /** An HTML page instead of the XML feed. */
  | 'html'
  /** Not well-formed XML. */
  | 'malformed'
  /** Well-formed so far, but the body ended before the document did. */
  | 'truncated'
  /** A DOCTYPE (and so possibly entity declarations): refused, see docs/adr/0005-*.md. */
  | 'doctype'
  /** A size or depth limit that protects the ingester from a hostile feed. */
  | 'limit'
  /**
   * Bytes that are not valid in the feed's encoding, a declared encoding that is not read (see
   * parser.ts), or a declaration that contradicts the byte order mark.
   */
  | 'encoding'
  /** Well-formed XML that is not an `<eventList>`. */
  | 'structure'
  /** The run was cancelled (SIGTERM). */
  | 'aborted';

export class FeedError extends Error {
  constructor(
    readonly code: FeedErrorCode,
    message: string,
    /** Worth another attempt (network errors, timeouts, 5xx, 429). */
    readonly retryable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FeedError';
  }
}

/** A non-2xx answer. */
export class FeedHttpError extends FeedError {
  constructor(
    readonly status: number,
    message: string,
    retryable: boolean,
    /** Delay the provider asked for (Retry-After), already capped; undefined when absent. */
    readonly retryAfterMs: number | undefined,
  ) {
    super('http_status', message, retryable);
    this.name = 'FeedHttpError';
  }
}
