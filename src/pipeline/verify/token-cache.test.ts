import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenCache, tokenHash } from './token-cache.js';

describe('TokenCache', () => {
  it('keys by the SHA-256 of the token, never the token', () => {
    expect(tokenHash('secret-token')).toBe(createHash('sha256').update('secret-token').digest('base64url'));
    expect(tokenHash('secret-token')).not.toContain('secret');
  });

  it('serves an entry until its own expiry and under its own policy version only', () => {
    const c = new TokenCache<string>(() => 10);
    c.set('h', 'alice', 1000, 1, 0);
    expect(c.get('h', 1, 999)).toBe('alice');
    expect(c.get('h', 2, 500)).toBeUndefined(); // judged by another config: dropped
    expect(c.get('h', 1, 500)).toBeUndefined(); // and gone
    c.set('h', 'alice', 1000, 1, 0);
    expect(c.get('h', 1, 1000)).toBeUndefined(); // untilMs is exclusive
    expect(c.size).toBe(0);
  });

  it('does not store what is already expired, or anything when the bound is 0', () => {
    const c = new TokenCache<string>(() => 10);
    c.set('h', 'x', 100, 1, 100);
    expect(c.size).toBe(0);
    const off = new TokenCache<string>(() => 0);
    off.set('h', 'x', 1000, 1, 0);
    expect(off.get('h', 1, 0)).toBeUndefined();
  });

  it('evicts the least recently used entry when full, a read counting as use', () => {
    const c = new TokenCache<number>(() => 3);
    for (const k of ['a', 'b', 'c']) c.set(k, 1, 1e12, 1, 0);
    expect(c.get('a', 1, 0)).toBe(1); // a is now the most recent
    c.set('d', 1, 1e12, 1, 0);
    expect(c.get('b', 1, 0)).toBeUndefined();
    expect(['a', 'c', 'd'].map((k) => c.get(k, 1, 0))).toEqual([1, 1, 1]);
    expect(c.size).toBe(3);
  });

  it('stays bounded under a churn of never-seen keys (a flood of forged tokens)', () => {
    const c = new TokenCache<number>(() => 1000);
    for (let i = 0; i < 50_000; i++) c.set(tokenHash(`forged-${i}`), i, 1e12, 1, 0);
    expect(c.size).toBe(1000);
    expect(c.get(tokenHash('forged-49999'), 1, 0)).toBe(49_999);
    expect(c.get(tokenHash('forged-0'), 1, 0)).toBeUndefined();
  });

  it('follows a changed bound from the config (the cache starts over)', () => {
    let max = 5;
    const c = new TokenCache<number>(() => max);
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i, 1e12, 1, 0);
    max = 2;
    c.set('k5', 5, 1e12, 1, 0);
    for (let i = 6; i < 10; i++) c.set(`k${i}`, i, 1e12, 1, 0);
    expect(c.size).toBe(2);
    c.clear();
    expect(c.size).toBe(0);
  });
});
