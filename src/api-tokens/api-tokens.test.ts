// What ApiTokens does with the secret, on a real SQLite file (the behaviour both backends share is
// in test/store/conformance/tokens.ts).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { Db } from '../store/sqlite/db.js';
import { ApiTokens, hashToken } from './api-tokens.js';
import { fixedClock } from '../clock.js';
import { SqliteTokenStore } from '../store/sqlite/tokens.js';
import { useTokenStore } from '../../test/helpers/token-store.js';

// Spy on the compare ApiTokens imports, to prove the final equality goes through it.
vi.mock('node:crypto', async (importOriginal) => {
  const orig = await importOriginal<typeof import('node:crypto')>();
  return { ...orig, timingSafeEqual: vi.fn(orig.timingSafeEqual) };
});
const { timingSafeEqual } = await import('node:crypto');

let dir: string;
let db: Db;
let store: ApiTokens;
useTokenStore('api-tokens-unit-', Date.UTC(2026, 0, 1), (f) => ({ dir, db, store } = f));
const mint = () => store.create({ owner: 'alice', name: 'ci', createdBy: 'test' }, { prefix: 'jas_', maxLifetimeDays: 90 });

describe('ApiTokens and the secret', () => {
  it('stores only the SHA-256: no column holds the secret', async () => {
    const { token, id } = await mint();
    const row = db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Record<string, unknown>;
    expect(row.token_hash).toBe(createHash('sha256').update(token).digest('hex'));
    for (const v of Object.values(row)) expect(String(v)).not.toContain(token.slice(4));
  });

  it('hashes as it always did (SHA-256 of the UTF-8 text, hex): hashes stored by earlier versions still match', () => {
    for (const t of ['jas_4Vd8uT0pQm1xYb7Zr2LkA9sGfH3wNc0aBcDe', 'ünïcödé ✓ 𝄞', '']) expect(hashToken(t)).toBe(createHash('sha256').update(t, 'utf8').digest('hex'));
  });

  it('never writes the secret to the database files (db + WAL)', async () => {
    const { token } = await mint();
    db.pragma('wal_checkpoint(PASSIVE)');
    const body = token.slice(4, 34);
    for (const f of readdirSync(dir)) expect(readFileSync(path.join(dir, f)).includes(Buffer.from(body))).toBe(false);
  });

  it('decides equality with crypto.timingSafeEqual', async () => {
    const { token, id } = await mint();
    vi.mocked(timingSafeEqual).mockClear();
    expect((await store.findByToken(token))?.id).toBe(id);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
  });
});

describe('ApiTokens row cache (cacheMs: the bound on revocations made elsewhere)', () => {
  it('reuses a row within cacheMs, reads again after it, and a revocation made here is refused at once', async () => {
    const clock = fixedClock(Date.UTC(2026, 0, 1));
    const store = new SqliteTokenStore(db);
    const reads = vi.spyOn(store, 'findByHash');
    const here = new ApiTokens(store, { clock, cacheMs: () => 500 });
    const elsewhere = new ApiTokens(new SqliteTokenStore(db), { clock }); // another replica
    const { token, id } = await here.create({ owner: 'alice', name: 'c', createdBy: 't' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    expect((await here.findByToken(token))?.revokedAt).toBeUndefined();
    expect((await here.findByToken(token))?.revokedAt).toBeUndefined();
    expect(reads).toHaveBeenCalledTimes(1);
    await elsewhere.revoke(id);
    clock.advance(499);
    expect((await here.findByToken(token))?.revokedAt).toBeUndefined(); // within the bound
    clock.advance(1);
    expect((await here.findByToken(token))?.revokedAt).toBeDefined(); // past it: read again
    expect(reads).toHaveBeenCalledTimes(2);
    const second = await here.create({ owner: 'alice', name: 'd', createdBy: 't' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    await here.findByToken(second.token);
    await here.revoke(second.id);
    expect((await here.findByToken(second.token))?.revokedAt).toBeDefined(); // revoked here: at once
    await here.close();
    await elsewhere.close();
  });

  it('cacheMs 0 reads the store on every lookup', async () => {
    const store = new SqliteTokenStore(db);
    const reads = vi.spyOn(store, 'findByHash');
    const t = new ApiTokens(store);
    const { token } = await t.create({ owner: 'alice', name: 'e', createdBy: 't' }, { prefix: 'jas_', maxLifetimeDays: 90 });
    for (let i = 0; i < 3; i++) await t.findByToken(token);
    expect(reads).toHaveBeenCalledTimes(3);
    await t.close();
  });
});

