// Numbered .sql files in migrations/ applied in order, each in its own transaction, recorded in
// schema_migrations. A failing migration leaves the database as it was.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'migrations', 'sqlite');

/** SIDECAR_MIGRATIONS_DIR overrides the shipped migrations/ (operators testing a migration, and the CLI tests). */
export const defaultMigrationsDir = (env: NodeJS.ProcessEnv = process.env): string => env.SIDECAR_MIGRATIONS_DIR || MIGRATIONS_DIR;

export class MigrationError extends Error {
  constructor(
    readonly file: string,
    readonly sqlError: Error,
  ) {
    super(`migration ${file} failed: ${sqlError.message}`);
  }
}

export interface MigrationResult {
  applied: string[];
  alreadyApplied: number;
}

export function listMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort();
}

export function migrate(db: Database.Database, dir = MIGRATIONS_DIR, onApply?: (file: string) => void): MigrationResult {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
  )`);
  const done = new Set((db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: string }>).map((r) => r.version));
  const applied: string[] = [];
  for (const file of listMigrations(dir)) {
    if (done.has(file)) continue;
    const sql = readFileSync(path.join(dir, file), 'utf8');
    const apply = db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(file, Date.now());
    });
    try {
      apply();
    } catch (e) {
      throw new MigrationError(file, e as Error);
    }
    applied.push(file);
    onApply?.(file);
  }
  return { applied, alreadyApplied: done.size };
}
