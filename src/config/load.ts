// Loads the config file (YAML or JSON), expands ${VAR} from the environment (file only, never
// values sent through the admin API), applies SIDECAR_* environment overrides, and validates.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { validate, type ConfigIssue, type ValidationResult } from './validate.js';

export class ConfigFileError extends Error {
  constructor(
    message: string,
    readonly issues: ConfigIssue[],
  ) {
    super(message);
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** "${A}" and "${A:-fallback}" in every string value; a missing variable is an issue at that path. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv, path = '', issues: ConfigIssue[] = []): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (_m, name: string, fallback?: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      issues.push({ path: path || '(root)', message: `environment variable ${name} is not set` });
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, `${path}[${i}]`, issues));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, path ? `${path}.${k}` : k, issues);
    return out;
  }
  return value;
}

export function parseConfigText(text: string, file = 'config'): unknown {
  try {
    // YAML 1.2 is a superset of JSON, so one parser reads both.
    return parseYaml(text, { maxAliasCount: 100 }) ?? {};
  } catch (e) {
    throw new ConfigFileError(`${file}: not valid YAML/JSON: ${(e as Error).message}`, [
      { path: '(file)', message: (e as Error).message },
    ]);
  }
}

function setIn(obj: Record<string, any>, path: string[], value: unknown) {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (cur[p] === undefined || cur[p] === null || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p];
  }
  cur[path[path.length - 1]!] = value;
}

const intEnv = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);

/** Environment variable -> the setting it overrides (contract section 2). */
export const ENV_OVERRIDES: ReadonlyArray<readonly [string, string[], (v: string) => unknown]> = [
  ['SIDECAR_UPSTREAM', ['upstream', 'url'], String],
  ['SIDECAR_PORT', ['server', 'port'], intEnv],
  ['SIDECAR_HOST', ['server', 'host'], String],
  ['SIDECAR_ADMIN_PORT', ['server', 'adminPort'], intEnv],
  ['SIDECAR_ADMIN_HOST', ['server', 'adminHost'], String],
  ['SIDECAR_DATA_DIR', ['server', 'dataDir'], String],
  ['SIDECAR_LOG_LEVEL', ['log', 'level'], String],
  ['SIDECAR_DATABASE_URL', ['store', 'url'], String],
  ['SIDECAR_WORKERS', ['server', 'workers'], intEnv],
];

/** SIDECAR_* variables override the file (contract section 2). */
export function applyEnvOverrides(raw: Record<string, any>, env: NodeJS.ProcessEnv): Record<string, any> {
  const out = structuredClone(raw);
  for (const [name, path, conv] of ENV_OVERRIDES) {
    const v = env[name];
    if (v !== undefined && v !== '') setIn(out, path, conv(v));
  }
  // A database URL chooses its backend: postgres:// selects PostgreSQL (contract section 8).
  if (env.SIDECAR_DATABASE_URL && /^postgres(ql)?:\/\//i.test(env.SIDECAR_DATABASE_URL)) setIn(out, ['store', 'kind'], 'postgres');
  // The shortcut adds one issuer, unless the file already validates with that same JWKS.
  const already = Array.isArray(out.jwt?.issuers) && out.jwt.issuers.some((i: any) => i?.keys?.jwksUri === env.SIDECAR_JWKS_URL && i?.name !== 'env');
  if (env.SIDECAR_JWKS_URL && !already) {
    const issuers: any[] = Array.isArray(out.jwt?.issuers) ? out.jwt.issuers.filter((i: any) => i?.name !== 'env') : [];
    issuers.push({
      name: 'env',
      issuer: env.SIDECAR_ISSUER || '*',
      audiences: env.SIDECAR_AUDIENCE ? [env.SIDECAR_AUDIENCE] : ['*'],
      keys: { jwksUri: env.SIDECAR_JWKS_URL },
    });
    setIn(out, ['jwt', 'issuers'], issuers);
  }
  return out;
}

export interface LoadedConfig {
  result: ValidationResult;
  /** The file's document after ${VAR} expansion, before defaults (what PUT /api/config edits). */
  raw: Record<string, any>;
  file?: string;
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  let doc: Record<string, any> = {};
  const issues: ConfigIssue[] = [];
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigFileError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, [
        { path: '(file)', message: (e as Error).message },
      ]);
    }
    const parsed = parseConfigText(text, file);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigFileError(`${file}: the top level must be a mapping of settings`, [{ path: '(root)', message: 'must be a mapping' }]);
    }
    doc = expandEnv(parsed as Json, env, '', issues) as Record<string, any>;
  }
  const withEnv = applyEnvOverrides(doc, env);
  const validated = validate(withEnv);
  // A bad value that came from the environment is named by its variable, not only by the setting
  // (the file may not even mention it).
  const result: ValidationResult = validated.ok
    ? validated
    : {
        ok: false,
        issues: validated.issues.map((i) => {
          const from = ENV_OVERRIDES.find(([name, p]) => p.join('.') === i.path && env[name] !== undefined && env[name] !== '');
          return from ? { ...i, message: `${i.message} (set by ${from[0]})` } : i;
        }),
      };
  if (issues.length) {
    const all = result.ok ? issues : [...issues, ...result.issues];
    return { result: { ok: false, issues: all }, raw: doc, file };
  }
  return { result, raw: doc, file };
}
