// A bounded cache of verification results keyed by the SHA-256 of the token: the token itself is
// never a key or a value here (a heap dump shows hashes, not credentials). Entries never outlive
// their own expiry (the caller passes min(exp, ...)) and carry the policy version they were made
// under, so a config reload can never serve a result judged by the old config.
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

// One-shot crypto.hash (Node >= 20.12): no Hash object per call; same digest as createHash().update().digest().
export const tokenHash = (token: string): string => hash('sha256', token, 'base64url');

interface Entry<T> {
  value: T;
  untilMs: number;
  version: number;
}

/**
 * LRU by lru-cache: a Map used as an LRU (delete the first key when full) costs ~7 µs per eviction
 * once it churns (V8 leaves deleted slots at the front that every keys().next() walks past), and a
 * flood of never-seen forged tokens evicts on every request; lru-cache's ~0.4 µs does not grow.
 */
export class TokenCache<T> {
  private lru: LRUCache<string, Entry<T>> | undefined;
  constructor(private readonly maxEntries: () => number) {}

  get(hash: string, version: number, nowMs: number): T | undefined {
    const e = this.lru?.get(hash);
    if (!e) return undefined;
    if (e.version !== version || e.untilMs <= nowMs) {
      this.lru!.delete(hash);
      return undefined;
    }
    return e.value;
  }

  set(hash: string, value: T, untilMs: number, version: number, nowMs: number): void {
    const max = this.maxEntries();
    if (max <= 0 || untilMs <= nowMs) return;
    // The bound is read from the config on every set; a changed bound starts a new cache (a reload clears it anyway).
    if (this.lru?.max !== max) this.lru = new LRUCache<string, Entry<T>>({ max });
    this.lru.set(hash, { value, untilMs, version });
  }

  /** The entries made under `version` and still valid at nowMs, most recently used first (the LRU's own order). */
  entries(version: number, nowMs: number): Array<{ hash: string; value: T; untilMs: number }> {
    const out: Array<{ hash: string; value: T; untilMs: number }> = [];
    for (const [hash, e] of this.lru?.entries() ?? []) if (e.version === version && e.untilMs > nowMs) out.push({ hash, value: e.value, untilMs: e.untilMs });
    return out;
  }

  /**
   * Entries handed over from elsewhere (most recently used first, as entries() gives them) put back
   * under `version`: at most the cache's bound of them, the most recently used, inserted least
   * recently used first so the order ends as it was. Answers how many were taken.
   */
  restore(entries: ReadonlyArray<{ hash: string; value: T; untilMs: number }>, version: number, nowMs: number): number {
    const take = entries.slice(0, Math.max(0, this.maxEntries()));
    for (let i = take.length - 1; i >= 0; i--) this.set(take[i]!.hash, take[i]!.value, take[i]!.untilMs, version, nowMs);
    return take.length;
  }

  clear(): void {
    this.lru?.clear();
  }

  get size(): number {
    return this.lru?.size ?? 0;
  }
}
