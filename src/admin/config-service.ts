// GET/PUT /api/config: the effective configuration with secrets masked, and validated, persisted,
// audited, hot-swapped changes. `${VAR}` is never expanded in values sent here (contract section 3).
import { applyEnvOverrides } from '../config/load.js';
import { compilePolicy } from '../config/policy.js';
import { formatPath, validate, type ConfigIssue } from '../config/validate.js';
import type { Config } from '../config/schema.js';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { diffLeaves, getIn, isObj, maskedChanges, maskSecrets, secretPaths, unmaskSecrets, applyChanges, type DocPath } from './config-doc.js';
import { changesToStore, placeholderPaths, planFileWrite, withoutEnvIssuer, writeConfigFile } from './config-store.js';

/** Settings read only at start (listeners, the audit writer): saved, but applied at the next restart. */
export const RESTART_PATHS = ['server', 'audit.writer'];

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
  /** Serialises PUTs: each one diffs against the configuration the previous one left. */
  lock: Promise<unknown>;
}
const states = new WeakMap<Runtime, ConfigState>();
function stateOf(rt: Runtime): ConfigState {
  let s = states.get(rt);
  if (!s) states.set(rt, (s = { base: structuredClone(rt.deps.getPolicy().config) as Config, lock: Promise.resolve() }));
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

/**
 * Start-up: without a config file, replay the admin's stored changes over the startup configuration.
 * A stored change set that no longer validates stops the start (failing open to defaults could
 * undo a lockdown); `jira-auth-sidecar admin reset-config` clears it.
 */
export async function loadStoredConfig(rt: Runtime, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const s = stateOf(rt);
  if (rt.configFile) return false;
  const stored = await rt.stores.config.load();
  if (!stored || stored.changes.length === 0) return false;
  // Env is applied last: a SIDECAR_* variable set at this start wins over the value the admin saved.
  const changes = stored.changes.filter((c) => formatPath(c.path) !== DATA_DIR);
  if (changes.length < stored.changes.length) rt.deps.logger.warn({ path: DATA_DIR }, `a saved ${DATA_DIR} is ignored: it ${DATA_DIR_MESSAGE}`);
  const doc = applyEnvOverrides(applyChanges(withoutEnvIssuer(s.base, env), changes), env);
  const v = validate(doc);
  if (!v.ok)
    throw new Error(
      `the configuration saved in the admin UI no longer validates (${v.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}); ` +
        'fix the startup configuration or run `jira-auth-sidecar admin reset-config`',
    );
  rt.applyConfig(v.config, doc);
  // The logger was built from the startup level, before the saved one was known.
  if (rt.deps.logger.level !== v.config.log.level) rt.deps.logger.level = v.config.log.level;
  rt.deps.logger.info({ changes: stored.changes.length, savedAt: new Date(stored.savedAt).toISOString(), savedBy: stored.savedBy, version: stored.version }, 'admin configuration changes loaded from the database');
  return true;
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

/** Validates, persists, swaps and audits one configuration document sent by an admin. */
export function putConfig(rt: Runtime, sent: Record<string, unknown>, actor: string, record: (changes: PutResult['changes']) => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<PutResult> {
  const s = stateOf(rt);
  const run = async (): Promise<PutResult> => {
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
    if (issues.length) throw invalid(issues);
    const next = v.config;
    const changes = diffLeaves(current, next);
    if (changes.length === 0) return { changes: [], restartRequired: [] };
    try {
      compilePolicy(next); // a stage compiler's setup check (TypeError) must fail here, before anything is saved
    } catch (e) {
      throw invalid([{ path: '(root)', message: (e as Error).message }]);
    }
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
      await rt.stores.config.save({ changes: changesToStore(s.base, next, env, keep), savedAt: rt.deps.clock.now(), savedBy: actor });
    }
    rt.applyConfig(next, doc);
    if (next.log.level !== current.log.level) rt.deps.logger.level = next.log.level;
    return { changes: masked, restartRequired: masked.map((c) => c.path).filter((p) => RESTART_PATHS.some((r) => p === r || p.startsWith(`${r}.`))) };
  };
  const result = s.lock.then(run, run);
  s.lock = result.catch(() => undefined);
  return result;
}

/** Captures the startup configuration (call before anything else swaps the policy). */
export function initConfigState(rt: Runtime): void {
  stateOf(rt);
}
