import { describe, expect, it } from '@jest/globals';
import { BoundedLru } from '../../../src/api/search/lru.js';

describe('BoundedLru', () => {
  it('evicts the least recently used entry beyond maxEntries', () => {
    const lru = new BoundedLru<string>({ maxEntries: 2, maxBytes: 1_000 });
    lru.set('a', 'A', 1);
    lru.set('b', 'B', 1);
    expect(lru.get('a')).toBe('A'); // a is now the most recent
    lru.set('c', 'C', 1);
    expect(lru.peek('b')).toBeUndefined();
    expect(lru.peek('a')).toBe('A');
    expect(lru.peek('c')).toBe('C');
    expect(lru.size).toBe(2);
  });

  it('evicts until the byte budget holds, and refuses a value larger than the budget', () => {
    const lru = new BoundedLru<string>({ maxEntries: 10, maxBytes: 100 });
    lru.set('a', 'A', 40);
    lru.set('b', 'B', 40);
    lru.set('c', 'C', 40);
    expect(lru.peek('a')).toBeUndefined();
    expect(lru.totalBytes).toBe(80);
    expect(lru.set('huge', 'H', 101)).toBe(false);
    expect(lru.totalBytes).toBe(80);
  });

  it('replaces a key in place, accounting its new size', () => {
    const lru = new BoundedLru<string>({ maxEntries: 10, maxBytes: 100 });
    lru.set('a', 'A', 40);
    lru.set('a', 'A2', 10);
    expect(lru.totalBytes).toBe(10);
    expect(lru.get('a')).toBe('A2');
  });

  it('keeps nothing when maxEntries is 0', () => {
    const lru = new BoundedLru<string>({ maxEntries: 0, maxBytes: 100 });
    expect(lru.set('a', 'A', 1)).toBe(false);
    expect(lru.size).toBe(0);
  });
});
