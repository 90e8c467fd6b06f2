// better-sqlite3 in WAL mode in SIDECAR_DATA_DIR, migrated at open.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { defaultMigrationsDir, migrate, type MigrationResult } from './migrate.js';

export type Db = Database.Database;

export function dbPath(dataDir: string): string {
  return path.resolve(dataDir, 'sidecar.db');
}

export function openDb(dataDir: string, opts: { migrate?: boolean; migrationsDir?: string; readonly?: boolean } = {}): { db: Db; migrations?: MigrationResult } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(dbPath(dataDir), { readonly: opts.readonly ?? false });
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  let migrations: MigrationResult | undefined;
  if (opts.migrate !== false && !opts.readonly) {
    try {
      migrations = migrate(db, opts.migrationsDir ?? defaultMigrationsDir());
    } catch (e) {
      db.close();
      throw e;
    }
  }
  return { db, migrations };
}
