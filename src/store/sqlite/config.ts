// ConfigStore on SQLite: two rows of the settings table, written in one transaction.
import { CONFIG_KEY, CONFIG_VERSION_KEY, parseStoredConfig, type ConfigStore, type StoredConfig } from '../config-store.js';
import type { Db } from './db.js';

export class SqliteConfigStore implements ConfigStore {
  constructor(private readonly db: Db) {}

  private read(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private bump(now: number): number {
    const next = Number(this.read(CONFIG_VERSION_KEY) ?? 0) + 1;
    this.db
      .prepare(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
      .run(CONFIG_VERSION_KEY, String(next), now);
    return next;
  }

  async load(): Promise<StoredConfig | undefined> {
    return this.db.transaction(() => {
      const text = this.read(CONFIG_KEY);
      return text === undefined ? undefined : parseStoredConfig(text, Number(this.read(CONFIG_VERSION_KEY) ?? 0));
    })();
  }

  async save(doc: Omit<StoredConfig, 'version'>): Promise<number> {
    return this.db.transaction(() => {
      this.db
        .prepare(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
        .run(CONFIG_KEY, JSON.stringify({ changes: doc.changes, savedAt: doc.savedAt, savedBy: doc.savedBy }), doc.savedAt);
      return this.bump(doc.savedAt);
    })();
  }

  async clear(at: number): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.db.prepare('DELETE FROM settings WHERE key = ?').run(CONFIG_KEY).changes > 0;
      if (removed) this.bump(at);
      return removed;
    })();
  }

  async version(): Promise<number> {
    return Number(this.read(CONFIG_VERSION_KEY) ?? 0);
  }
}
