// ConfigStore on PostgreSQL: the same two settings rows as sqlite/config.ts. The version row is
// bumped with one atomic upsert, so saves from two replicas at once get two distinct versions.
import type pg from 'pg';
import { CONFIG_KEY, CONFIG_VERSION_KEY, parseStoredConfig, storedConfigText, type ConfigDump, type ConfigStore, type StoredConfig } from '../config-store.js';
import { inTransaction } from './pool.js';
import { notifySql } from './changes.js';

const UPSERT = `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`;

const BUMP = `INSERT INTO settings (key, value, updated_at) VALUES ($1, '1', $2)
  ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text, updated_at = EXCLUDED.updated_at
  RETURNING value::bigint AS version`;

export class PgConfigStore implements ConfigStore {
  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<StoredConfig | undefined> {
    const rows = (await this.pool.query<{ key: string; value: string }>('SELECT key, value FROM settings WHERE key = ANY($1)', [[CONFIG_KEY, CONFIG_VERSION_KEY]])).rows;
    const text = rows.find((r) => r.key === CONFIG_KEY)?.value;
    return text === undefined ? undefined : parseStoredConfig(text, Number(rows.find((r) => r.key === CONFIG_VERSION_KEY)?.value ?? 0));
  }

  async save(doc: Omit<StoredConfig, 'version'>): Promise<number> {
    return inTransaction(this.pool, async (c) => {
      await c.query(UPSERT, [CONFIG_KEY, storedConfigText(doc), doc.savedAt]);
      const version = (await c.query<{ version: number }>(BUMP, [CONFIG_VERSION_KEY, doc.savedAt])).rows[0]!.version;
      await c.query(notifySql, ['config']); // delivered at commit: the other replicas sync now
      return version;
    });
  }

  async clear(at: number): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const removed = ((await c.query('DELETE FROM settings WHERE key = $1', [CONFIG_KEY])).rowCount ?? 0) > 0;
      if (removed) {
        await c.query(BUMP, [CONFIG_VERSION_KEY, at]);
        await c.query(notifySql, ['config']);
      }
      return removed;
    });
  }

  async version(): Promise<number> {
    return Number((await this.pool.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [CONFIG_VERSION_KEY])).rows[0]?.value ?? 0);
  }

  async dump(): Promise<ConfigDump> {
    // Both rows in one statement: the version is the document's.
    const rows = (await this.pool.query<{ key: string; value: string }>('SELECT key, value FROM settings WHERE key = ANY($1)', [[CONFIG_KEY, CONFIG_VERSION_KEY]])).rows;
    const version = Number(rows.find((r) => r.key === CONFIG_VERSION_KEY)?.value ?? 0);
    const text = rows.find((r) => r.key === CONFIG_KEY)?.value;
    if (text === undefined) return { version };
    const { version: _, ...saved } = parseStoredConfig(text, version);
    return { version, saved };
  }

  async restore(d: ConfigDump): Promise<void> {
    const at = d.saved?.savedAt ?? 0;
    await inTransaction(this.pool, async (c) => {
      if (d.saved) await c.query(UPSERT, [CONFIG_KEY, storedConfigText(d.saved), at]);
      else await c.query('DELETE FROM settings WHERE key = $1', [CONFIG_KEY]);
      // Version 0 is no row at all, as on a store that was never saved to.
      if (d.version > 0) await c.query(UPSERT, [CONFIG_VERSION_KEY, String(d.version), at]);
      else await c.query('DELETE FROM settings WHERE key = $1', [CONFIG_VERSION_KEY]);
    });
  }
}
