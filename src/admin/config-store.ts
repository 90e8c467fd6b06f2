// Where an admin's configuration change is kept so it survives a restart.
//  - With a config file (SIDECAR_CONFIG / --config): the changed settings are written into that file,
//    atomically (temp file + fsync + rename), leaving every other line as it was: comments, layout and
//    ${VAR} placeholders included. A setting whose file value is a ${VAR} placeholder cannot be changed
//    through the API (change the variable), and a value sent through the API may not contain "${",
//    because the file loader would expand it.
//  - Without a file: the list of changed settings (path -> value, relative to the startup
//    configuration) is kept by the ConfigStore (store/config-store.ts) and replayed over the startup
//    configuration at each start, so new defaults or env values still apply to everything the admin
//    did not touch.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { isNode, parseDocument, YAMLSeq, type Document } from 'yaml';
import type { StoredChange } from '../store/config-store.js';
import { formatPath, type ConfigIssue } from '../config/validate.js';
import { deepEqual, diffLeaves, getIn, isObj, type Change, type DocPath } from './config-doc.js';

const hasPlaceholder = (v: unknown) => v !== undefined && JSON.stringify(v).includes('${');

/** The issuer SIDECAR_JWKS_URL adds is owned by the environment: never persisted, never diffed. */
export function withoutEnvIssuer(config: unknown, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const c = structuredClone(config) as Record<string, any>;
  if (env.SIDECAR_JWKS_URL && Array.isArray(c?.jwt?.issuers)) c.jwt.issuers = c.jwt.issuers.filter((i: any) => i?.name !== 'env');
  return c;
}

/** Paths of file values that are ${VAR} placeholders (the UI shows them read-only). */
export function placeholderPaths(file: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown, p: DocPath) => {
    if (typeof v === 'string') {
      if (v.includes('${')) out.push(formatPath(p));
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...p, i]));
    else if (isObj(v)) for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  try {
    walk(parseDocument(readFileSync(file, 'utf8')).toJS(), []);
  } catch {
    /* unreadable now: nothing to mark */
  }
  return out;
}

function atomicWrite(file: string, text: string) {
  const dir = path.dirname(file);
  let mode = 0o600;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    /* new file */
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, file);
  // fsync the directory so the rename itself survives a crash.
  try {
    const dfd = openSync(dir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    /* not supported on every platform */
  }
}

/**
 * Applies `changes` (diff of the effective configs, env issuer stripped) to the file's document.
 * Returns issues instead of writing when a change would lose or inject a ${VAR} placeholder.
 */
export function planFileWrite(file: string, changes: Change[]): { issues: ConfigIssue[]; text?: string } {
  const text = readFileSync(file, 'utf8');
  const doc: Document = parseDocument(text);
  const raw = doc.toJS() as unknown;
  const issues: ConfigIssue[] = [];
  for (const c of changes) {
    const at = formatPath(c.path);
    if (hasPlaceholder(c.after) && !(Array.isArray(c.after) && Array.isArray(c.before)))
      issues.push({ path: at, message: 'must not contain "${": the config file loader would expand it from the environment' });
    const rawAt = getIn(raw, c.path);
    if (Array.isArray(c.before) && Array.isArray(c.after) && Array.isArray(rawAt)) {
      // Items kept unchanged keep their file text (placeholders included); a changed item is rewritten.
      const newItems = c.after as unknown[];
      rawAt.forEach((item, j) => {
        const kept = newItems.some((n) => deepEqual(n, (c.before as unknown[])[j]));
        if (!kept && hasPlaceholder(item)) issues.push({ path: `${at}[${j}]`, message: 'comes from a ${VAR} placeholder in the config file; edit the file or the environment variable' });
      });
      newItems.forEach((n, i) => {
        if (!(c.before as unknown[]).some((o) => deepEqual(o, n)) && hasPlaceholder(n)) issues.push({ path: `${at}[${i}]`, message: 'must not contain "${": the config file loader would expand it from the environment' });
      });
    } else if (hasPlaceholder(rawAt)) {
      issues.push({ path: at, message: 'is set from a ${VAR} placeholder in the config file; change the environment variable instead' });
    }
  }
  if (issues.length) return { issues };
  for (const c of changes) {
    if (c.after === undefined) {
      doc.deleteIn(c.path);
    } else if (Array.isArray(c.before) && Array.isArray(c.after) && Array.isArray(getIn(raw, c.path))) {
      const seq = new YAMLSeq();
      for (const n of c.after) {
        const j = (c.before as unknown[]).findIndex((o) => deepEqual(o, n));
        const old = j >= 0 ? doc.getIn([...c.path, j], true) : undefined;
        seq.items.push(isNode(old) ? old.clone() : doc.createNode(n));
      }
      doc.setIn(c.path, seq);
    } else {
      doc.setIn(c.path, doc.createNode(c.after));
    }
  }
  const out = /\.json$/i.test(file) ? `${JSON.stringify(doc.toJS(), null, 2)}\n` : doc.toString();
  return { issues, text: out };
}

export function writeConfigFile(file: string, text: string): void {
  atomicWrite(file, text);
}

/**
 * The admin's changes relative to the startup configuration, replayed at each start (kept by the
 * ConfigStore). `keep`: earlier stored changes to settings a SIDECAR_* variable fixes at this start
 * (env wins while it is set; the saved value returns when it is unset, so saving something else must
 * not forget it).
 */
export function changesToStore(base: unknown, next: unknown, env: NodeJS.ProcessEnv, keep: StoredChange[] = []): StoredChange[] {
  const changes: StoredChange[] = diffLeaves(withoutEnvIssuer(base, env), withoutEnvIssuer(next, env)).map((c) => ({ path: c.path, after: c.after }));
  for (const k of keep) if (!changes.some((c) => formatPath(c.path) === formatPath(k.path))) changes.push(k);
  return changes;
}
