// Shared CLI helpers: every command reads the same env and config as serve.
import { loadConfig, ConfigFileError, type LoadedConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { openDb } from '../store/sqlite/db.js';
import { MigrationError } from '../store/sqlite/migrate.js';

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

export function openDbOrExit(dataDir: string) {
  try {
    return openDb(dataDir);
  } catch (e) {
    if (e instanceof MigrationError) die(`migration failed: ${e.file}: ${e.sqlError.message}`);
    throw e;
  }
}

