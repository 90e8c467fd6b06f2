// better-sqlite3 in WAL mode in SIDECAR_DATA_DIR, migrated at open.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { defaultMigrationsDir, migrate, type MigrationResult } from './migrate.js';

export type Db = Database.Database;

/**
 * The page size of a new database file (SQLite's default is 4,096). The audit log is appended a
 * batch at a time and each commit copies its changed pages into the WAL: with 16 KiB pages the audit
 * writer spends about 10 % less CPU per row (test/bench/writer-micro.ts, 11.8 against 10.6 µs,
 * medians of four). SQLite applies it only to an empty file; an existing database keeps its own.
 */
export const NEW_DB_PAGE_SIZE = 16_384;

export function dbPath(dataDir: string): string {
  return path.resolve(dataDir, 'sidecar.db');
}

export function openDb(dataDir: string, opts: { migrate?: boolean; migrationsDir?: string; readonly?: boolean } = {}): { db: Db; migrations?: MigrationResult } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new Database(dbPath(dataDir), { readonly: opts.readonly ?? false });
  if (!opts.readonly) {
    // Before WAL: a file that has tables (or is in WAL mode) keeps its page size, an empty one takes this.
    db.pragma(`page_size = ${NEW_DB_PAGE_SIZE}`);
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
