// A bounded cache of verification results keyed by the SHA-256 of the token: the token itself is
// never a key or a value here (a heap dump shows hashes, not credentials). Entries never outlive
// their own expiry (the caller passes min(exp, ...)) and carry the policy version they were made
// under, so a config reload can never serve a result judged by the old config.
import { hash } from 'node:crypto';

// One-shot crypto.hash (Node >= 20.12): no Hash object per call; same digest as createHash().update().digest().
export const tokenHash = (token: string): string => hash('sha256', token, 'base64url');

interface Entry<T> {
  value: T;
  untilMs: number;
  version: number;
}

export class TokenCache<T> {
  private readonly map = new Map<string, Entry<T>>();
  constructor(private readonly maxEntries: () => number) {}

  get(hash: string, version: number, nowMs: number): T | undefined {
    const e = this.map.get(hash);
    if (!e) return undefined;
    if (e.version !== version || e.untilMs <= nowMs) {
      this.map.delete(hash);
      return undefined;
    }
    // LRU: move to the end.
    this.map.delete(hash);
    this.map.set(hash, e);
    return e.value;
  }

  set(hash: string, value: T, untilMs: number, version: number, nowMs: number): void {
    const max = this.maxEntries();
    if (max <= 0 || untilMs <= nowMs) return;
    this.map.delete(hash);
    this.map.set(hash, { value, untilMs, version });
    while (this.map.size > max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}
