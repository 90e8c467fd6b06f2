// Every store on one PostgreSQL pool: replicas pointing at the same database share all of it.
import type { Stores } from '../stores.js';
import { createPool, type PostgresOptions } from './pool.js';
import { migratePostgres } from './migrate.js';
import { PgTokenStore } from './tokens.js';
import { PgAdminStore } from './admin.js';
import { PgConfigStore } from './config.js';
import { PgCredentialStore } from './credentials.js';
import type { MigrationResult } from '../sqlite/migrate.js';

export async function openPostgresStores(o: PostgresOptions & { migrate?: boolean; migrationsDir?: string }): Promise<{ stores: Stores; migrations?: MigrationResult }> {
  const pool = createPool(o);
  let migrations: MigrationResult | undefined;
  try {
    if (o.migrate !== false) migrations = await migratePostgres(pool, o.migrationsDir);
  } catch (e) {
    await pool.end();
    throw e;
  }
  const stores: Stores = {
    kind: 'postgres',
    tokens: new PgTokenStore(pool),
    admin: new PgAdminStore(pool),
    config: new PgConfigStore(pool),
    credentials: new PgCredentialStore(pool),
    close: () => pool.end(),
  };
  return { stores, migrations };
}
