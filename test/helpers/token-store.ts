// ApiTokens on a real SQLite file in a fresh temp dir per test, with a fixed clock: the fixture the
// API-token unit tests share (the backend-neutral behaviour is in test/store/conformance/tokens.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { ApiTokens } from '../../src/api-tokens/api-tokens.js';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { SqliteTokenStore } from '../../src/store/sqlite/tokens.js';

export interface TokenStoreFixture {
  dir: string;
  db: Db;
  clock: ReturnType<typeof fixedClock>;
  store: ApiTokens;
}

/**
 * Registers beforeEach/afterEach that open and remove the fixture; `use` receives each test's one
 * (so a test file keeps its own short names: `useTokenStore('x-', T0, (f) => ({ db, store } = f))`).
 */
export function useTokenStore(prefix: string, startMs: number, use: (f: TokenStoreFixture) => void): void {
  let f: TokenStoreFixture | undefined;
  beforeEach(() => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    const db = openDb(dir).db;
    const clock = fixedClock(startMs);
    f = { dir, db, clock, store: new ApiTokens(new SqliteTokenStore(db), { clock }) };
    use(f);
  });
  afterEach(async () => {
    await f?.store.close();
    f?.db.close();
    if (f) rmSync(f.dir, { recursive: true, force: true });
    f = undefined;
  });
}
