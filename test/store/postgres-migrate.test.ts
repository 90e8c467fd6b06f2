// Replicas starting at the same moment on an empty PostgreSQL database: the migrations run exactly
// once (advisory lock), every replica comes up, and a start that finds them applied changes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { openPostgresStores } from '../../src/store/postgres/stores.js';
import { listMigrations } from '../../src/store/sqlite/migrate.js';
import { PG_MIGRATIONS_DIR } from '../../src/store/postgres/migrate.js';
import { freshDatabase } from '../helpers/postgres.js';

let drop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await drop?.();
  drop = undefined;
});

describe('postgres: migrations under concurrent starts', () => {
  it('three replicas opening an empty database at once: each migration applied once, all three up', async () => {
    const db = await freshDatabase('migrate');
    drop = db.drop;
    const all = listMigrations(PG_MIGRATIONS_DIR);
    const opened = await Promise.all(['a', 'b', 'c'].map((replica) => openPostgresStores({ url: db.url, poolSize: 2, replica })));
    try {
      const applied = opened.map((o) => o.migrations!.applied);
      // One replica applied every file; the others waited for the lock and found nothing to do.
      expect(applied.flat().sort()).toEqual([...all].sort());
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        const rows = (await c.query<{ version: string; n: string }>('SELECT version, count(*) AS n FROM schema_migrations GROUP BY version ORDER BY version')).rows;
        expect(rows.map((r) => [r.version, Number(r.n)])).toEqual(all.map((f) => [f, 1]));
      } finally {
        await c.end();
      }
      for (const o of opened) await o.stores.ping();
      const again = await openPostgresStores({ url: db.url, poolSize: 1, replica: 'd' });
      expect(again.migrations).toEqual({ applied: [], alreadyApplied: all.length });
      await again.stores.close();
    } finally {
      for (const o of opened) await o.stores.close();
    }
  });
});
