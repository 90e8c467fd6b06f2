// Shared CLI helpers: every command reads the same env and config as serve.
import { loadConfig, ConfigFileError, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { MigrationError } from '../store/sqlite/migrate.js';
import { openStores, type OpenedStores } from '../store/open.js';

export function die(message: string, code = 1): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

/** Loads SIDECAR_CONFIG (or the given file) + env, or exits 1 listing every bad field. */
export function loadOrExit(file = process.env.SIDECAR_CONFIG): LoadedConfig & { config: Config } {
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig(file || undefined);
  } catch (e) {
    if (e instanceof ConfigFileError) die(`config_invalid: ${e.message}`);
    throw e;
  }
  if (!loaded.result.ok) {
    die(`config_invalid: ${file ?? 'configuration'} has ${loaded.result.issues.length} problem(s):\n${loaded.result.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
  }
  return { ...loaded, config: loaded.result.config };
}

/**
 * The configured store (store.kind: the SQLite file in server.dataDir, or the PostgreSQL database of a
 * cluster), migrated, named as `serve` names its replica; or exit 1 saying why (the URL's password masked).
 */
export async function openStoresOrExit(config: Config, opts: { migrate?: boolean } = {}): Promise<OpenedStores> {
  try {
    return await openStores(config, opts);
  } catch (e) {
    if (e instanceof MigrationError) die(`migration failed: ${e.file}: ${e.sqlError.message}`);
    die(`store unavailable (${config.store.kind}): ${withoutPassword((e as Error).message, config.store.url)}`);
  }
}

/** A driver message with the database URL's password cut out, should the driver ever quote it. */
export function withoutPassword(message: string, url: string | undefined): string {
  let password = '';
  try {
    password = url ? decodeURIComponent(new URL(url).password) : '';
  } catch {
    /* not a URL: nothing to cut */
  }
  return password ? message.split(password).join('***') : message;
}
