/**
 * A least-recently-used map bounded by entry count and by total size in bytes.
 *
 * Small on purpose (a `Map` keeps insertion order, so the first key is the least recently used);
 * the project has no LRU library among its direct dependencies.
 */
export interface LruLimits {
  /** At most this many entries; 0 disables the cache (nothing is kept). */
  maxEntries: number;
  /** At most this many bytes over all entries. */
  maxBytes: number;
}

export class BoundedLru<V> {
  private readonly entries = new Map<string, { value: V; size: number }>();
  private bytes = 0;

  constructor(private readonly limits: LruLimits) {}

  get size(): number {
    return this.entries.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** The value, marked as most recently used. */
  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** The value, without changing its recency. */
  peek(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  /**
   * Stores `value` as most recently used, then evicts the least recently used entries until both
   * limits hold. A value larger than `maxBytes` on its own is not stored. Returns whether it was.
   */
  set(key: string, value: V, size: number): boolean {
    this.delete(key);
    if (this.limits.maxEntries <= 0 || size > this.limits.maxBytes) return false;
    this.entries.set(key, { value, size });
    this.bytes += size;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.size;
    }
    return true;
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.size;
  }

  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
