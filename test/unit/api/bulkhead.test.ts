/**
 * The bulkhead's line (docs/adr/0017-search-hot-and-cold-paths.md): misses beyond the bound wait,
 * in order and for a bounded time, in a line of bounded length; the rest is refused at once.
 */
import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { Bulkhead, BulkheadFullError, type Release } from '../../../src/api/search/bulkhead.js';

afterEach(() => {
  jest.useRealTimers();
});

/** Settles the promise callbacks queued so far. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('Bulkhead', () => {
  it('refuses at once beyond the bound without a line (acquire, or a line of 0)', async () => {
    const rejected: string[] = [];
    const bulkhead = new Bulkhead('queries', 1, (r) => rejected.push(r));
    const release = bulkhead.acquire();
    expect(() => bulkhead.acquire()).toThrow(BulkheadFullError);
    await expect(bulkhead.acquireWaiting()).rejects.toBeInstanceOf(BulkheadFullError);
    expect(rejected).toEqual(['queries', 'queries']);
    release();
    release(); // idempotent
    expect(bulkhead.inUse).toBe(0);
  });

  it('hands freed slots to the waiters in arrival order, and refuses when the line is full', async () => {
    const rejected: string[] = [];
    const bulkhead = new Bulkhead('queries', 2, (r) => rejected.push(r), {
      size: 2,
      maxWaitMs: 60_000,
    });
    const first = await bulkhead.acquireWaiting();
    const second = await bulkhead.acquireWaiting();
    const granted: string[] = [];
    const third = bulkhead.acquireWaiting().then((r) => (granted.push('third'), r));
    const fourth = bulkhead.acquireWaiting().then((r) => (granted.push('fourth'), r));
    expect(bulkhead.queued).toBe(2);
    // The line is full: the fifth is refused at once; `acquire` never waits.
    await expect(bulkhead.acquireWaiting()).rejects.toBeInstanceOf(BulkheadFullError);
    expect(() => bulkhead.acquire()).toThrow(BulkheadFullError);
    expect(rejected).toEqual(['queries', 'queries']);

    second();
    await settle();
    expect(granted).toEqual(['third']);
    // The slot went to the waiter: still two in use, one waiting.
    expect([bulkhead.inUse, bulkhead.queued]).toEqual([2, 1]);
    first();
    await settle();
    expect(granted).toEqual(['third', 'fourth']);
    (await third)();
    (await fourth)();
    expect([bulkhead.inUse, bulkhead.queued]).toEqual([0, 0]);
  });

  it('refuses a waiter that waited maxWaitMs, and it leaves the line', async () => {
    jest.useFakeTimers();
    const bulkhead = new Bulkhead('queries', 1, undefined, { size: 4, maxWaitMs: 500 });
    const held: Release = bulkhead.acquire();
    const waiting = bulkhead.acquireWaiting();
    let outcome: unknown;
    waiting.then(
      () => (outcome = 'granted'),
      (err: unknown) => (outcome = err),
    );
    jest.advanceTimersByTime(499);
    await Promise.resolve();
    expect(outcome).toBeUndefined();
    jest.advanceTimersByTime(1);
    await Promise.resolve();
    await Promise.resolve();
    expect(outcome).toBeInstanceOf(BulkheadFullError);
    expect(bulkhead.queued).toBe(0);
    // The slot, freed later, is not handed to the waiter that left.
    held();
    expect(bulkhead.inUse).toBe(0);
  });
});
