// The storage conformance suite on SQLite: a fresh database file per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/store/sqlite/db.js';
import { sqliteStores } from '../../src/store/sqlite/stores.js';
import { storeConformance } from './conformance/index.js';

storeConformance({
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(path.join(tmpdir(), 'store-conformance-'));
    const stores = sqliteStores(openDb(dir).db, { ownsDb: true });
    return {
      stores,
      destroy: async () => {
        await stores.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
