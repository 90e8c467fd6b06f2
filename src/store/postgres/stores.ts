// Every store on one PostgreSQL pool: replicas pointing at the same database share all of it.
import { hostname } from 'node:os';
import type { Stores } from '../stores.js';
import { createPool, type PostgresOptions } from './pool.js';
import { migratePostgres } from './migrate.js';
import { PgTokenStore } from './tokens.js';
import { PgAdminStore } from './admin.js';
import { PgConfigStore } from './config.js';
import { PgCredentialStore } from './credentials.js';
import { PgAuditStore } from './audit.js';
import { PgTokenRequestStore } from './token-requests.js';
import { PgLifecycleStore } from './lifecycle.js';
import { PgShippingCursorStore } from './shipping.js';
import { PgVerdictStore } from './verdicts.js';
import { ChangeListener } from './changes.js';
import type { MigrationResult } from '../sqlite/migrate.js';

export interface OpenPostgresOptions extends PostgresOptions {
  migrate?: boolean;
  migrationsDir?: string;
  /** This process's name among the replicas (config/replica.ts): the audit chains it appends to. The host name when not given. */
  replica?: string;
}

export async function openPostgresStores(o: OpenPostgresOptions): Promise<{ stores: Stores; migrations?: MigrationResult }> {
  const pool = createPool(o);
  let migrations: MigrationResult | undefined;
  try {
    if (o.migrate !== false) migrations = await migratePostgres(pool, o.migrationsDir);
  } catch (e) {
    await pool.end();
    throw e;
  }
  const changes = new ChangeListener(o);
  const stores: Stores = {
    kind: 'postgres',
    tokens: new PgTokenStore(pool),
    admin: new PgAdminStore(pool),
    config: new PgConfigStore(pool),
    credentials: new PgCredentialStore(pool),
    audit: new PgAuditStore(pool, o.replica ?? hostname()),
    lifecycle: new PgLifecycleStore(pool, o.replica ?? hostname()),
    shipping: new PgShippingCursorStore(pool),
    tokenRequests: new PgTokenRequestStore(pool),
    verdicts: new PgVerdictStore(pool),
    onChange: (fn) => changes.on(fn),
    ping: async () => {
      await pool.query('SELECT 1');
    },
    close: async () => {
      await changes.close();
      await pool.end();
    },
  };
  return { stores, migrations };
}
