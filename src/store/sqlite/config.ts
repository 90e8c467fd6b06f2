// ConfigStore on SQLite: two rows of the settings table, written in one transaction.
import { CONFIG_KEY, CONFIG_VERSION_KEY, parseStoredConfig, storedConfigText, type ConfigDump, type ConfigStore, type StoredConfig } from '../config-store.js';
import type { Db } from './db.js';

export class SqliteConfigStore implements ConfigStore {
  constructor(private readonly db: Db) {}

  private read(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined)?.value;
  }

  private write(key: string, value: string, at: number): void {
    this.db
      .prepare(`INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`)
      .run(key, value, at);
  }

  private bump(now: number): number {
    const next = Number(this.read(CONFIG_VERSION_KEY) ?? 0) + 1;
    this.write(CONFIG_VERSION_KEY, String(next), now);
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
      this.write(CONFIG_KEY, storedConfigText(doc), doc.savedAt);
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

  async dump(): Promise<ConfigDump> {
    return this.db.transaction(() => {
      const version = Number(this.read(CONFIG_VERSION_KEY) ?? 0);
      const text = this.read(CONFIG_KEY);
      if (text === undefined) return { version };
      const { version: _, ...saved } = parseStoredConfig(text, version);
      return { version, saved };
    })();
  }

  async restore(d: ConfigDump): Promise<void> {
    const at = d.saved?.savedAt ?? 0;
    this.db.transaction(() => {
      if (d.saved) this.write(CONFIG_KEY, storedConfigText(d.saved), at);
      else this.db.prepare('DELETE FROM settings WHERE key = ?').run(CONFIG_KEY);
      // Version 0 is no row at all, as on a store that was never saved to.
      if (d.version > 0) this.write(CONFIG_VERSION_KEY, String(d.version), at);
      else this.db.prepare('DELETE FROM settings WHERE key = ?').run(CONFIG_VERSION_KEY);
    })();
  }
}
