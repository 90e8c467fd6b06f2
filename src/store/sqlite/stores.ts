// Every store on one SQLite handle (better-sqlite3, WAL).
import type { Stores } from '../stores.js';
import type { Db } from './db.js';
import { SqliteTokenStore } from './tokens.js';
import { SqliteAdminStore } from './admin.js';
import { SqliteConfigStore } from './config.js';
import { SqliteCredentialStore } from './credentials.js';

/** The stores over an open, migrated handle; `close` closes the handle only when `ownsDb`. */
export function sqliteStores(db: Db, opts: { ownsDb?: boolean } = {}): Stores {
  return {
    kind: 'sqlite',
    tokens: new SqliteTokenStore(db),
    admin: new SqliteAdminStore(db),
    config: new SqliteConfigStore(db),
    credentials: new SqliteCredentialStore(db),
    close: async () => {
      if (opts.ownsDb) db.close();
    },
  };
}
