// Opens the configured store (store.kind): SQLite in server.dataDir, or the PostgreSQL database
// every replica of a cluster shares. Migrations run here, for `serve` and the CLI alike.
import type { Config } from '../config/schema.js';
import { replicaName } from '../config/replica.js';
import type { Logger } from '../log.js';
import { openDb, type Db } from './sqlite/db.js';
import type { MigrationResult } from './sqlite/migrate.js';
import { sqliteStores } from './sqlite/stores.js';
import { redactUrl } from './postgres/pool.js';
import { openPostgresStores } from './postgres/stores.js';
import type { Stores } from './stores.js';

export interface OpenedStores {
  stores: Stores;
  /** The SQLite handle (kind sqlite only): SQLite-specific tools (EXPLAIN, pragmas) and tests use it. */
  db?: Db;
  migrations?: MigrationResult;
  /** Where the data is, fit for a log line (a PostgreSQL URL's password is masked). */
  where: string;
}

export async function openStores(config: Pick<Config, 'server' | 'store'>, opts: { logger?: Logger; migrate?: boolean } = {}): Promise<OpenedStores> {
  const replica = replicaName(config.server);
  const s = config.store;
  if (s.kind === 'postgres') {
    const { stores, migrations } = await openPostgresStores({
      url: s.url!,
      poolSize: s.poolSize,
      statementTimeoutMs: s.statementTimeoutMs,
      connectTimeoutMs: s.connectTimeoutMs,
      caFile: s.caFile,
      replica,
      migrate: opts.migrate,
    });
    return { stores, migrations, where: redactUrl(s.url!) };
  }
  const { db, migrations } = openDb(config.server.dataDir, { migrate: opts.migrate });
  return { stores: sqliteStores(db, { ownsDb: true, replica, logger: opts.logger }), db, migrations, where: db.name };
}
