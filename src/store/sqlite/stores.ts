// Every store on one SQLite handle (better-sqlite3, WAL).
import { hostname } from 'node:os';
import type { Stores } from '../stores.js';
import type { Db } from './db.js';
import type { Logger } from '../../log.js';
import { SqliteTokenStore } from './tokens.js';
import { SqliteAdminStore } from './admin.js';
import { SqliteConfigStore } from './config.js';
import { SqliteCredentialStore } from './credentials.js';
import { SqliteAuditStore } from './audit.js';
import { SqliteTokenRequestStore } from './token-requests.js';
import { SqliteLifecycleStore } from './lifecycle.js';
import { SqliteShippingCursorStore } from './shipping.js';
import { SqliteVerdictStore } from './verdicts.js';

export interface SqliteStoresOptions {
  /** `close` closes the handle too. */
  ownsDb?: boolean;
  /** The replica name audit rows report (config/replica.ts); the host name when not given. */
  replica?: string;
  /** Where the audit worker's own failures are logged. */
  logger?: Logger;
}

/** The stores over an open, migrated handle. */
export function sqliteStores(db: Db, opts: SqliteStoresOptions = {}): Stores {
  return {
    kind: 'sqlite',
    tokens: new SqliteTokenStore(db),
    admin: new SqliteAdminStore(db),
    config: new SqliteConfigStore(db),
    credentials: new SqliteCredentialStore(db),
    audit: new SqliteAuditStore(db, opts.replica ?? hostname(), { logger: opts.logger }),
    lifecycle: new SqliteLifecycleStore(db, opts.replica ?? hostname()),
    shipping: new SqliteShippingCursorStore(db, opts.replica ?? hostname()),
    tokenRequests: new SqliteTokenRequestStore(db),
    verdicts: new SqliteVerdictStore(db),
    onChange: () => {},
    ping: async () => {
      if (!db.open) throw new Error('the SQLite database is closed');
      db.prepare('SELECT 1').get();
    },
    close: async () => {
      if (opts.ownsDb) db.close();
    },
  };
}
