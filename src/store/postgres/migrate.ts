// Numbered .sql files in migrations/postgres/ applied in order, each in its own transaction and
// recorded in schema_migrations, under a session advisory lock: replicas that start together on an
// empty database migrate it exactly once (the others wait for the lock, then find nothing to do).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { listMigrations, MigrationError, type MigrationResult } from '../sqlite/migrate.js';

export const PG_MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'migrations', 'postgres');

/** pg_advisory_lock key: any fixed bigint; this one spells "jas-migr". */
const LOCK_KEY = '7658232014226401138';

export async function migratePostgres(pool: pg.Pool, dir = PG_MIGRATIONS_DIR, onApply?: (file: string) => void): Promise<MigrationResult> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`);
      const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const applied: string[] = [];
      for (const file of listMigrations(dir)) {
        if (done.has(file)) continue;
        const sql = readFileSync(path.join(dir, file), 'utf8');
        try {
          await client.query('BEGIN');
          await client.query(sql);
          await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [file, Date.now()]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw new MigrationError(file, e as Error);
        }
        applied.push(file);
        onApply?.(file);
      }
      return { applied, alreadyApplied: done.size };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_KEY]).catch(() => {});
    }
  } finally {
    client.release();
  }
}
