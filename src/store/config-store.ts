// The configuration an admin saved without a config file (the changed settings, replayed over the
// startup configuration at each start), at rest: the interface both backends implement
// (sqlite/config.ts, postgres/config.ts). Pinned by test/store/conformance/config.ts.

/** One changed setting: its path in the config document and the value saved (absent: removed). */
export interface StoredChange {
  path: Array<string | number>;
  after?: unknown;
}

export interface StoredConfig {
  changes: StoredChange[];
  savedAt: number;
  savedBy: string;
  /** Bumped by every save and clear: replicas compare it to know whether to reload. */
  version: number;
}

/** The saved changes (absent: none, or cleared) and the version counter: what `store copy` moves. */
export interface ConfigDump {
  version: number;
  saved?: Omit<StoredConfig, 'version'>;
}

export interface ConfigStore {
  /** The saved changes, or undefined when none are saved. Throws when they are unreadable. */
  load(): Promise<StoredConfig | undefined>;
  /** Replaces the saved changes; returns the new version. */
  save(doc: Omit<StoredConfig, 'version'>): Promise<number>;
  /** Removes the saved changes; true when there were some. Bumps the version either way it removed. */
  clear(at: number): Promise<boolean>;
  /** The current version (0 before the first save): a cheap read for the periodic check. */
  version(): Promise<number>;

  // ---- copying a store (store/copy.ts)
  /** The saved changes and the version, read together. Throws when the changes are unreadable. */
  dump(): Promise<ConfigDump>;
  /** Sets the saved changes and the version to the dump's (replicas polling the version see the copy's). */
  restore(d: ConfigDump): Promise<void>;
}

/** settings keys: the document, and its version counter (kept apart so a clear keeps counting). */
export const CONFIG_KEY = 'admin.configChanges';
export const CONFIG_VERSION_KEY = 'admin.configVersion';

/** The document -> the stored text (savedAt and savedBy travel inside it). */
export const storedConfigText = (doc: Omit<StoredConfig, 'version'>): string => JSON.stringify({ changes: doc.changes, savedAt: doc.savedAt, savedBy: doc.savedBy });

/** The stored text -> the document; an unreadable one stops the start rather than fall open to defaults. */
export function parseStoredConfig(text: string, version: number): StoredConfig {
  let v: Partial<StoredConfig> | undefined;
  try {
    v = JSON.parse(text) as Partial<StoredConfig>;
  } catch {
    v = undefined;
  }
  if (!v || !Array.isArray(v.changes)) throw new Error('the configuration changes saved in the admin UI are unreadable; run `jira-auth-sidecar admin reset-config`');
  return { changes: v.changes, savedAt: Number(v.savedAt), savedBy: String(v.savedBy), version };
}
