// GET/PUT /api/config: the effective configuration with secrets masked, and validated, persisted,
// audited, hot-swapped changes. `${VAR}` is never expanded in values sent here (contract section 3).
import { applyEnvOverrides, ConfigFileError, loadConfig } from '../config/load.js';
import { compilePolicy, type Policy } from '../config/policy.js';
import { formatPath, validate, type ConfigIssue } from '../config/validate.js';
import type { Config } from '../config/schema.js';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { diffLeaves, getIn, isObj, maskedChanges, maskSecrets, secretPaths, unmaskSecrets, applyChanges, type DocPath } from './config-doc.js';
import type { StoredConfig } from '../store/config-store.js';
import { changesToStore, placeholderPaths, planFileWrite, withoutEnvIssuer, writeConfigFile } from './config-store.js';

/** Settings read only at start (listeners, the audit writer): saved, but applied at the next restart. */
// admin.tls: the admin listener's TLS settings (its certificate files' contents reload by themselves, http/tls.ts).
export const RESTART_PATHS = ['server', 'audit.writer', 'tracing', 'admin.tls'];

/**
 * Without a config file the admin's changes are kept in the database inside server.dataDir, so a
 * stored dataDir could never be read from the directory it names: moving the data is for
 * SIDECAR_DATA_DIR or a config file.
 */
const DATA_DIR = 'server.dataDir';
const DATA_DIR_MESSAGE = 'is where the database keeping the changes saved here lives; move it with SIDECAR_DATA_DIR or a config file';

interface ConfigState {
  /** The configuration the process started with (file or built-in + env), before stored admin changes. */
  base: Config;
  /** Serialises PUTs and syncs: each one works on the configuration the previous one left. */
  lock: Promise<unknown>;
  /** The ConfigStore version this replica applied last (0: nothing stored yet), and when it last checked. */
  applied: number;
  syncedAt?: number;
  /** A stored version that did not validate here: logged once, not on every check. */
  refused?: number;
}
const states = new WeakMap<Runtime, ConfigState>();
function stateOf(rt: Runtime): ConfigState {
  let s = states.get(rt);
  if (!s) states.set(rt, (s = { base: structuredClone(rt.deps.getPolicy().config) as Config, lock: Promise.resolve(), applied: 0 }));
  return s;
}

/** Leaves of a document, formatted ("upstream.url"). */
function leafPaths(v: unknown, p: DocPath = [], out: string[] = []): string[] {
  if (isObj(v)) for (const [k, x] of Object.entries(v)) leafPaths(x, [...p, k], out);
  else out.push(formatPath(p));
  return out;
}

/** Which settings a SIDECAR_* variable fixes (read-only in the UI; a PUT may not change them). */
export function envOverrides(env: NodeJS.ProcessEnv): Array<{ path: string; variable: string }> {
  const out: Array<{ path: string; variable: string }> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('SIDECAR_') || v === undefined || v === '') continue;
    const applied = applyEnvOverrides({}, { [k]: v });
    for (const p of leafPaths(applied)) out.push({ path: p.startsWith('jwt.issuers') ? 'jwt.issuers[name=env]' : p, variable: k });
  }
  return out;
}

/** Runs fn after every PUT or sync before it (they read and swap the same configuration). */
function serialised<T>(s: ConfigState, fn: () => Promise<T>): Promise<T> {
  const result = s.lock.then(fn, fn);
  s.lock = result.catch(() => undefined);
  return result;
}

/**
 * The startup configuration with the stored changes over it (none: the startup configuration), env
 * applied last: a SIDECAR_* variable set at this start wins over the value the admin saved.
 */
function replay(rt: Runtime, stored: StoredConfig | undefined, env: NodeJS.ProcessEnv) {
  const s = stateOf(rt);
  const all = stored?.changes ?? [];
  const changes = all.filter((c) => formatPath(c.path) !== DATA_DIR);
  if (changes.length < all.length) rt.deps.logger.warn({ path: DATA_DIR }, `a saved ${DATA_DIR} is ignored: it ${DATA_DIR_MESSAGE}`);
  const doc = applyEnvOverrides(applyChanges(withoutEnvIssuer(s.base, env), changes), env);
  return { doc, v: validate(doc) };
}

function swapIn(rt: Runtime, config: Config, doc: Record<string, unknown>): void {
  rt.applyConfig(config, doc);
  // The logger was built from the startup level, before the saved one was known.
  if (rt.deps.logger.level !== config.log.level) rt.deps.logger.level = config.log.level;
}

/**
 * Start-up: without a config file, replay the admin's stored changes over the startup configuration.
 * A stored change set that no longer validates stops the start (failing open to defaults could
 * undo a lockdown); `jira-auth-sidecar admin reset-config` clears it.
 */
export async function loadStoredConfig(rt: Runtime, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const s = stateOf(rt);
  if (rt.configFile) return false;
  const stored = await rt.stores.config.load();
  s.applied = stored?.version ?? (await rt.stores.config.version());
  s.syncedAt = rt.deps.clock.now();
  if (!stored || stored.changes.length === 0) return false;
  const { doc, v } = replay(rt, stored, env);
  if (!v.ok)
    throw new Error(
      `the configuration saved in the admin UI no longer validates (${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); ` +
        'fix the startup configuration or run `jira-auth-sidecar admin reset-config`',
    );
  swapIn(rt, v.config, doc);
  rt.deps.logger.info({ changes: stored.changes.length, savedAt: new Date(stored.savedAt).toISOString(), savedBy: stored.savedBy, version: stored.version }, 'admin configuration changes loaded from the database');
  return true;
}

/**
 * Cluster: applies a configuration another replica saved (or cleared) since this one last looked.
 * Cheap when nothing changed (one read of the version). A saved set that does not validate here (a
 * different SIDECAR_* environment) is refused and logged once: this replica keeps what it has.
 * Returns whether the configuration was swapped.
 */
export function syncStoredConfig(rt: Runtime, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return serialised(stateOf(rt), () => syncNow(rt, env));
}

/** syncStoredConfig's work, for a caller that already holds the lock (a PUT catches up first). */
async function syncNow(rt: Runtime, env: NodeJS.ProcessEnv): Promise<boolean> {
  const s = stateOf(rt);
  if (rt.configFile) return false;
  const version = await rt.stores.config.version();
  s.syncedAt = rt.deps.clock.now();
  if (version === s.applied || version === s.refused) return false;
  const stored = await rt.stores.config.load();
  const { doc, v } = replay(rt, stored, env);
  if (!v.ok) {
    s.refused = version;
    rt.deps.logger.error({ version, issues: v.issues }, 'configuration saved on another replica does not validate here; keeping the current one');
    return false;
  }
  swapIn(rt, v.config, doc);
  s.applied = stored?.version ?? version;
  rt.deps.logger.info({ version: s.applied, savedBy: stored?.savedBy ?? null }, 'configuration saved on another replica applied');
  return true;
}

/** The stored version applied here and when the store was last checked (readiness). */
export function configSyncState(rt: Runtime): { applied: number; syncedAt?: number } {
  const s = stateOf(rt);
  return { applied: s.applied, syncedAt: s.syncedAt };
}

export async function describeConfig(rt: Runtime, env: NodeJS.ProcessEnv = process.env) {
  const policy = rt.deps.getPolicy();
  return {
    config: maskSecrets(policy.config),
    version: policy.version,
    source: rt.configFile ? 'file' : (await rt.stores.config.load()) ? 'database' : 'defaults',
    file: rt.configFile ?? null,
    secrets: secretPaths(policy.config),
    envOverrides: envOverrides(env),
    placeholders: rt.configFile ? placeholderPaths(rt.configFile) : [],
    restartRequired: RESTART_PATHS,
  };
}

const invalid = (issues: ConfigIssue[]) =>
  new SidecarError('config_invalid', { message: `The configuration has ${issues.length} problem(s).`, issues });

export interface PutResult {
  changes: ReturnType<typeof maskedChanges>;
  restartRequired: string[];
}

/**
 * A configuration document sent by an admin, checked as PUT /api/config checks it (masked secrets
 * restored, environment overrides applied, validated, settings read only at start refused, compiled)
 * without saving anything: PUT saves the result, POST /api/replay judges recorded traffic with it.
 */
export function checkCandidate(rt: Runtime, sent: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env) {
  const current = rt.deps.getPolicy().config;
  const doc = unmaskSecrets(sent, current);
  const withEnv = applyEnvOverrides(doc, env);
  const issues: ConfigIssue[] = [];
  for (const o of envOverrides(env)) {
    if (o.path.startsWith('jwt.issuers')) continue;
    const p = o.path.split('.');
    const mine = getIn(doc, p);
    if (mine !== undefined && mine !== getIn(withEnv, p)) issues.push({ path: o.path, message: `is set by the environment variable ${o.variable}; change or unset it there` });
  }
  if (!rt.configFile && getIn(doc, ['server', 'dataDir']) !== undefined && getIn(doc, ['server', 'dataDir']) !== current.server.dataDir && !issues.some((i) => i.path === DATA_DIR))
    issues.push({ path: DATA_DIR, message: DATA_DIR_MESSAGE });
  const v = validate(withEnv);
  if (!v.ok) throw invalid([...issues, ...v.issues]);
  // The store holds what is saved here and is opened before anything is read from it: it is set at
  // start (config file or SIDECAR_DATABASE_URL), never through this API.
  for (const c of diffLeaves(current.store, v.config.store)) {
    issues.push({ path: formatPath(['store', ...c.path]), message: 'is read at start from the config file or SIDECAR_DATABASE_URL; it cannot be changed here' });
  }
  // The replica name picks the audit chains this process appends to: set before anything is replayed.
  if (current.server.replicaName !== v.config.server.replicaName) {
    issues.push({ path: 'server.replicaName', message: 'names this replica\'s audit chains and is read at start from the config file; it cannot be changed here' });
  }
  // server.workers decides at start whether `serve` forks workers (http/workers.ts), from the config
  // file or SIDECAR_WORKERS, before the saved settings are read: without a file a save would not apply.
  if (!rt.configFile && current.server.workers !== v.config.server.workers && !issues.some((i) => i.path === 'server.workers')) {
    issues.push({ path: 'server.workers', message: 'is read at start from the config file or SIDECAR_WORKERS; without a config file it cannot be changed here' });
  }
  if (issues.length) throw invalid(issues);
  const next = v.config;
  let policy: Policy;
  try {
    policy = compilePolicy(next); // a stage compiler's setup check (TypeError) must fail here, before anything is saved
  } catch (e) {
    throw invalid([{ path: '(root)', message: (e as Error).message }]);
  }
  return { current, doc, withEnv, next, policy };
}

/** Validates, persists, swaps and audits one configuration document sent by an admin. */
export function putConfig(rt: Runtime, sent: Record<string, unknown>, actor: string, record: (changes: PutResult['changes']) => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<PutResult> {
  const s = stateOf(rt);
  const run = async (): Promise<PutResult> => {
    // A change saved on another replica first: this one is made on top of it, not over it.
    await syncNow(rt, env);
    const { current, doc, withEnv, next } = checkCandidate(rt, sent, env);
    const changes = diffLeaves(current, next);
    if (changes.length === 0) return { changes: [], restartRequired: [] };
    const masked = maskedChanges(changes);
    let text: string | undefined;
    if (rt.configFile) {
      const plan = planFileWrite(rt.configFile, diffLeaves(withoutEnvIssuer(current, env), withoutEnvIssuer(next, env)));
      if (plan.issues.length) throw invalid(plan.issues);
      text = plan.text!;
    }
    // Recorded before it is saved: a change whose record cannot be stored is not made.
    await record(masked);
    if (rt.configFile) {
      try {
        writeConfigFile(rt.configFile, text!);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? 'error';
        rt.deps.logger.error({ err: e, file: rt.configFile }, 'config file not written');
        throw new SidecarError('internal_error', { message: `The configuration could not be written to ${rt.configFile} (${code}); nothing was changed.` });
      }
    } else {
      const envPaths = new Set(envOverrides(env).map((o) => o.path));
      const keep = ((await rt.stores.config.load())?.changes ?? []).filter((c) => envPaths.has(formatPath(c.path)));
      s.applied = await rt.stores.config.save({ changes: changesToStore(s.base, next, env, keep), savedAt: rt.deps.clock.now(), savedBy: actor });
    }
    rt.applyConfig(next, doc);
    if (next.log.level !== current.log.level) rt.deps.logger.level = next.log.level;
    return { changes: masked, restartRequired: masked.map((c) => c.path).filter((p) => RESTART_PATHS.some((r) => p === r || p.startsWith(`${r}.`))) };
  };
  return serialised(s, run);
}

export interface ReloadResult {
  /** ok: applied; unchanged: the file says what runs; invalid: nothing changed (issues name the bad settings). */
  result: 'ok' | 'unchanged' | 'invalid';
  changes: ReturnType<typeof maskedChanges>;
  /** Settings the file changes that only a restart applies (listeners, the store, the audit writer): kept as they run, and named. */
  restartRequired: string[];
  issues: ConfigIssue[];
  /** Where the configuration was read from. */
  source: 'file' | 'database';
}

/** Paths read only at start: they keep their running values on a reload, and are named instead of ignored. */
const START_ONLY = ['server', 'store', 'audit.writer', 'tracing', 'admin.tls'];
const startOnly = (path: string) => START_ONLY.some((r) => path === r || path.startsWith(`${r}.`));

/**
 * SIGHUP, POST /api/reload, `jira-auth-sidecar reload`: re-reads the config file and applies it in one
 * swap (requests in flight finish with the policy they started with). An invalid file changes
 * nothing: the issues are logged by path and answered. Settings that only a restart applies keep
 * their running values and are named. Without a config file there is nothing to re-read: the
 * configuration saved in the database is synced instead. Counted in sidecar_config_reloads_total{result}.
 */
export function reloadConfig(rt: Runtime, env: NodeJS.ProcessEnv = process.env): Promise<ReloadResult> {
  const s = stateOf(rt);
  const count = (r: ReloadResult) => {
    rt.deps.metrics.configReloads.inc({ result: r.result });
    const log = rt.deps.logger;
    if (r.result === 'invalid') log.error({ file: rt.configFile, issues: r.issues }, 'config reload refused: the file does not validate; nothing changed');
    else log.info({ file: rt.configFile ?? null, result: r.result, changes: r.changes.map((c) => c.path), restartRequired: r.restartRequired }, 'config reloaded');
    if (r.restartRequired.length) log.warn({ settings: r.restartRequired }, 'changed settings apply at the next restart (listeners, store, audit writer); they keep their running values');
    return r;
  };
  return serialised(s, async (): Promise<ReloadResult> => {
    if (!rt.configFile) {
      const swapped = await syncNow(rt, env);
      return count({ result: swapped ? 'ok' : 'unchanged', changes: [], restartRequired: [], issues: [], source: 'database' });
    }
    let loaded;
    try {
      loaded = loadConfig(rt.configFile, env);
    } catch (e) {
      if (e instanceof ConfigFileError) return count({ result: 'invalid', changes: [], restartRequired: [], issues: e.issues, source: 'file' });
      throw e;
    }
    if (!loaded.result.ok) return count({ result: 'invalid', changes: [], restartRequired: [], issues: loaded.result.issues, source: 'file' });
    const current = rt.deps.getPolicy().config;
    const next = structuredClone(loaded.result.config) as Config;
    const restartRequired = diffLeaves(current, next)
      .map((c) => formatPath(c.path))
      .filter(startOnly);
    // Keep what only a restart applies as it runs, so the effective configuration says the truth.
    next.server = structuredClone(current.server);
    next.store = structuredClone(current.store);
    next.audit.writer = current.audit.writer;
    if (current.admin.tls) next.admin.tls = structuredClone(current.admin.tls);
    else delete next.admin.tls;
    next.tracing = structuredClone(current.tracing);
    try {
      compilePolicy(next);
    } catch (e) {
      return count({ result: 'invalid', changes: [], restartRequired: [], issues: [{ path: '(root)', message: (e as Error).message }], source: 'file' });
    }
    const changes = diffLeaves(current, next);
    s.base = structuredClone(next);
    if (changes.length === 0) return count({ result: 'unchanged', changes: [], restartRequired, issues: [], source: 'file' });
    swapIn(rt, next, loaded.raw);
    return count({ result: 'ok', changes: maskedChanges(changes), restartRequired, issues: [], source: 'file' });
  });
}

/** Captures the startup configuration (call before anything else swaps the policy). */
export function initConfigState(rt: Runtime): void {
  stateOf(rt);
}
