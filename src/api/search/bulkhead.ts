/**
 * The bulkhead of the search side (docs/adr/0012-production-semantics.md): a bound on the
 * Elasticsearch queries one replica runs at once (cache misses) and on the points in time it keeps
 * open (multi-page answers). A request beyond either bound is not queued: it fails at once with
 * `BulkheadFullError`, which the search cache answers from a stale entry when it has one and the
 * error envelope otherwise turns into a fast 503 `overloaded` with Retry-After. Cached windows never
 * take a slot, so they keep answering while misses are refused.
 */

/** What a bound protects: the label of the rejection metric. */
export type BulkheadResource = 'queries' | 'points_in_time';

/** A request found the bulkhead full (answered 503 `overloaded`, Retry-After). */
export class BulkheadFullError extends Error {
  constructor(readonly resource: BulkheadResource) {
    super(
      resource === 'queries'
        ? 'Too many searches are running on this instance; retry after the delay in Retry-After'
        : 'Too many very large answers are being read on this instance; retry after the delay in Retry-After',
    );
    this.name = 'BulkheadFullError';
  }
}

export class Bulkhead {
  private active = 0;

  constructor(
    readonly resource: BulkheadResource,
    readonly limit: number,
    private readonly onRejected?: (resource: BulkheadResource) => void,
  ) {}

  /** Slots taken now. */
  get inUse(): number {
    return this.active;
  }

  /**
   * Takes a slot and returns its release (idempotent), or throws `BulkheadFullError` at once when
   * every slot is taken.
   */
  acquire(): () => void {
    if (this.active >= this.limit) {
      this.onRejected?.(this.resource);
      throw new BulkheadFullError(this.resource);
    }
    this.active += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
    };
  }
}
