// The storage conformance suite on SQLite: a fresh database file per test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { sqliteStores } from '../../src/store/sqlite/stores.js';
import type { Stores } from '../../src/store/stores.js';
import type { AuditTamper, Backend } from './conformance/harness.js';
import { storeConformance } from './conformance/index.js';
import { tokenRequestStoreConformance } from './conformance/token-requests.js';

/** Each open()'s handle, for the tampering cases (SQLite has one replica: its rows are keyed by id alone). */
const handles = new WeakMap<Stores, Db>();

const backend: Backend = {
  name: 'sqlite',
  async open() {
    const dir = mkdtempSync(path.join(tmpdir(), 'store-conformance-'));
    const db = openDb(dir).db;
    const stores = sqliteStores(db, { ownsDb: true });
    handles.set(stores, db);
    return {
      stores,
      destroy: async () => {
        await stores.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  async tamperAudit(stores, t: AuditTamper) {
    const db = handles.get(stores)!;
    if ('delete' in t) {
      db.prepare(`DELETE FROM ${t.table} WHERE id = ?`).run(t.id);
      return;
    }
    const cols = Object.keys(t.set);
    const r = db.prepare(`UPDATE ${t.table} SET ${cols.map((c) => `"${c}" = ?`).join(', ')} WHERE id = ?`).run(...cols.map((c) => t.set[c]), t.id);
    if (r.changes !== 1) throw new Error(`tamper: no ${t.table} row ${t.id}`);
  },
};

storeConformance(backend);
tokenRequestStoreConformance(backend);
