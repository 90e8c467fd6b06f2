import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fixedClock } from '../clock.js';
import type { Db } from './db.js';
import { describeToken, hashToken, TokenInputError, TokenStore } from './tokens.js';
import { generateApiToken, hasValidChecksum } from '../pipeline/credentials/api-token-format.js';
import { DAY_MS } from '../pipeline/verify/api-token/status.js';
import { useTokenStore } from '../../test/helpers/token-store.js';

// Spy on the compare the store imports, to prove the final equality goes through it.
vi.mock('node:crypto', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:crypto')>();
  return { ...orig, timingSafeEqual: vi.fn(orig.timingSafeEqual) };
});
const { timingSafeEqual } = await import('node:crypto');

const settings = { prefix: 'jas_', maxLifetimeDays: 90 };
const T0 = Date.UTC(2026, 0, 1);

let dir: string;
let db: Db;
let clock: ReturnType<typeof fixedClock>;
let store: TokenStore;

useTokenStore('tokens-unit-', T0, (f) => ({ dir, db, clock, store } = f));
afterEach(() => vi.useRealTimers()); // registered last: runs before the store closes (hooks run as a stack)

const mint = (over: Partial<Parameters<TokenStore['create']>[0]> = {}) => store.create({ owner: 'alice', name: 'ci', createdBy: 'test', ...over }, settings);

describe('TokenStore.create', () => {
  it('returns a prefixed token with a valid checksum and stores only its SHA-256', () => {
    const { token, id } = mint();
    expect(token.startsWith('jas_')).toBe(true);
    expect(hasValidChecksum(token, 'jas_')).toBe(true);
    const row = db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Record<string, unknown>;
    expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    for (const v of Object.values(row)) expect(String(v)).not.toContain(token.slice(4));
  });

  it('never writes the secret to the database files (db + WAL)', () => {
    const { token } = mint();
    db.pragma('wal_checkpoint(PASSIVE)');
    const body = token.slice(4, 34);
    for (const f of readdirSync(dir)) expect(readFileSync(path.join(dir, f)).includes(Buffer.from(body))).toBe(false);
  });

  it('defaults the lifetime to maxLifetimeDays', () => {
    const { record, capped } = mint();
    expect(record.expiresAt).toBe(T0 + 90 * DAY_MS);
    expect(capped).toBe(false);
  });

  it('caps a longer lifetime at maxLifetimeDays and says so', () => {
    const { record, capped } = mint({ days: 400 });
    expect(record.expiresAt).toBe(T0 + 90 * DAY_MS);
    expect(capped).toBe(true);
  });

  it('keeps a shorter lifetime', () => {
    expect(mint({ days: 7 }).record.expiresAt).toBe(T0 + 7 * DAY_MS);
  });

  it.each([
    ['days', { days: 0 }],
    ['days', { days: -3 }],
    ['owner', { owner: '' }],
    ['owner', { owner: 'has space' }],
    ['name', { name: '' }],
    ['name', { name: 'x'.repeat(101) }],
    ['paths', { paths: ['rest/no-leading-slash'] }],
    ['ipAllowlist', { ipAllowlist: ['10.0.0.0/33'] }],
    ['ipAllowlist', { ipAllowlist: ['not-an-ip'] }],
    ['rateLimit', { rateLimit: { points: 0, durationSec: 60 } }],
    ['access', { access: 'admin' as never }],
  ])('refuses a bad %s (%j)', (field, over) => {
    try {
      mint(over);
      expect.fail('create should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(TokenInputError);
      expect((e as TokenInputError).field).toBe(field);
    }
    expect(store.list()).toHaveLength(0);
  });

  it('stores scope, groups, IP list and rate limit', () => {
    const { record } = mint({ access: 'read', paths: ['/rest/api/2/search', 'GET /rest/api/2/issue/*'], groups: ['jira-developers'], ipAllowlist: ['10.0.0.0/8', '::1'], rateLimit: { points: 10, durationSec: 60 } });
    expect(record).toMatchObject({
      owner: 'alice',
      access: 'read',
      paths: ['/rest/api/2/search', 'GET /rest/api/2/issue/*'],
      groups: ['jira-developers'],
      ipAllowlist: ['10.0.0.0/8', '::1'],
      rateLimit: { points: 10, durationSec: 60 },
      createdBy: 'test',
    });
  });
});

describe('TokenStore reads', () => {
  it('list and get never expose the hash or the secret', () => {
    const { token, id } = mint();
    const hash = hashToken(token);
    const dump = JSON.stringify([store.list(), store.get(id), store.list({ owner: 'alice' }), describeToken(store.get(id)!, T0)]);
    expect(dump).not.toContain(hash);
    expect(dump).not.toContain(token);
    expect(dump).not.toMatch(/hash/i);
  });

  it('lists by owner', () => {
    mint();
    mint({ owner: 'bob' });
    expect(store.list({ owner: 'bob' }).map((t) => t.owner)).toEqual(['bob']);
    expect(store.list()).toHaveLength(2);
  });
});

describe('TokenStore.findByToken', () => {
  it('finds the token and decides equality with crypto.timingSafeEqual', () => {
    const { token, id } = mint();
    vi.mocked(timingSafeEqual).mockClear();
    expect(store.findByToken(token)?.id).toBe(id);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
  });

  it('does not find a different well-formed token', () => {
    mint();
    expect(store.findByToken(generateApiToken('jas_'))).toBeUndefined();
    expect(store.findByToken('')).toBeUndefined();
  });
});

describe('TokenStore.revoke', () => {
  it('marks the token revoked, once (the first time is kept)', () => {
    const { token, id } = mint();
    clock.advance(1000);
    expect(store.revoke(id)?.revokedAt).toBe(T0 + 1000);
    clock.advance(1000);
    expect(store.revoke(id)?.revokedAt).toBe(T0 + 1000);
    expect(store.findByToken(token)?.revokedAt).toBe(T0 + 1000);
    expect(describeToken(store.get(id)!, clock.now()).status).toBe('revoked');
  });

  it("does not revoke someone else's token when an owner is given", () => {
    const { id } = mint({ owner: 'bob' });
    expect(store.revoke(id, { owner: 'alice' })).toBeUndefined();
    expect(store.get(id)?.revokedAt).toBeUndefined();
    expect(store.revoke('tok_unknown')).toBeUndefined();
  });
});

describe('TokenStore.touch', () => {
  const lastUsedInDb = (id: string) => (db.prepare('SELECT last_used_at AS at, last_used_ip AS ip FROM api_tokens WHERE id = ?').get(id) as { at: number | null; ip: string | null });

  it('does not write on the request path; one batched write per interval; readers see it at once', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = new TokenStore(db, { clock, touchFlushMs: 60_000 });
    const { id } = s.create({ owner: 'alice', name: 'ci', createdBy: 't' }, settings);
    s.touch(id, '10.0.0.1', T0 + 1);
    s.touch(id, '10.0.0.2', T0 + 2);
    expect(lastUsedInDb(id)).toEqual({ at: null, ip: null });
    expect(s.get(id)).toMatchObject({ lastUsedAt: T0 + 2, lastUsedIp: '10.0.0.2' });
    vi.advanceTimersByTime(60_000);
    expect(lastUsedInDb(id)).toEqual({ at: T0 + 2, ip: '10.0.0.2' });
    s.close();
  });

  it('never moves last-used backwards and flushes on close', () => {
    const { id } = mint();
    store.touch(id, '10.0.0.9', T0 + 50);
    store.flush();
    store.touch(id, '10.0.0.1', T0 + 10); // an older stamp from a slower request
    store.close();
    expect(lastUsedInDb(id)).toEqual({ at: T0 + 50, ip: '10.0.0.9' });
  });
});
