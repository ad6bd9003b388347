import { describe, expect, it } from '@jest/globals';
import { defaultMaxBatch } from '../../../src/api/search/search-batcher.js';

describe('defaultMaxBatch: the _msearch bound when ES_MSEARCH_MAX_BATCH is unset', () => {
  it('is a third of the query slots, rounded up, so about three batches are in flight', () => {
    expect(defaultMaxBatch(16)).toBe(6);
    expect(defaultMaxBatch(30)).toBe(10);
    expect(defaultMaxBatch(31)).toBe(11);
  });

  it('is one (every search alone, no batcher) with three slots or fewer', () => {
    expect([1, 2, 3].map(defaultMaxBatch)).toEqual([1, 1, 1]);
    expect(defaultMaxBatch(4)).toBe(2);
  });
});
