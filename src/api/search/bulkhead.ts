/**
 * The bulkhead of the search side (docs/adr/0012-production-semantics.md): a bound on the
 * Elasticsearch queries one replica runs at once (cache misses) and on the points in time it keeps
 * open (multi-page answers). Cached windows never take a slot, so they keep answering while misses
 * wait or are refused.
 *
 * A request beyond the bound either fails at once with `BulkheadFullError` (`acquire`; the search
 * cache answers it from a stale entry when it has one, the error envelope otherwise turns it into a
 * fast 503 `overloaded` with Retry-After), or (`acquireWaiting`) waits in a short line: at most
 * `queue` requests wait, in arrival order, each at most `maxWaitMs`. A burst of concurrent misses a
 * little wider than the bound is then served as fast as the slots free up, instead of being turned
 * away while Elasticsearch has room; under a real overload the line is full or does not move within
 * `maxWaitMs`, and the refusals come back (docs/adr/0017-search-hot-and-cold-paths.md).
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

/** Gives a slot back (idempotent). */
export type Release = () => void;

/** The line in front of a full bulkhead: how many may wait, and for how long each. */
export interface BulkheadQueue {
  /** Requests that may wait for a slot at once; 0: none waits. */
  size: number;
  /** Longest a request waits for a slot before it is refused. */
  maxWaitMs: number;
}

interface Waiter {
  grant: (release: Release) => void;
  timer: NodeJS.Timeout;
}

export class Bulkhead {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly resource: BulkheadResource,
    readonly limit: number,
    private readonly onRejected?: (resource: BulkheadResource) => void,
    readonly queue: BulkheadQueue = { size: 0, maxWaitMs: 0 },
  ) {}

  /** Slots taken now. */
  get inUse(): number {
    return this.active;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Takes a slot and returns its release, or throws `BulkheadFullError` at once when none is free. */
  acquire(): Release {
    if (this.active >= this.limit) throw this.rejected();
    this.active += 1;
    return this.releaser();
  }

  /**
   * Takes a slot, waiting in line for one when every slot is taken: rejects with
   * `BulkheadFullError` at once when the line is full, or once the request has waited `maxWaitMs`.
   */
  acquireWaiting(): Promise<Release> {
    if (this.active < this.limit) {
      this.active += 1;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queue.size) return Promise.reject(this.rejected());
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(() => {
          this.waiting.splice(this.waiting.indexOf(waiter), 1);
          reject(this.rejected());
        }, this.queue.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private rejected(): BulkheadFullError {
    this.onRejected?.(this.resource);
    return new BulkheadFullError(this.resource);
  }

  /** The release of a slot just taken: hands the slot to the first waiter, if any. */
  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (!next) {
        this.active -= 1;
        return;
      }
      clearTimeout(next.timer);
      next.grant(this.releaser());
    };
  }
}
