// Pure helpers for editing configuration documents through the admin API: secret masking, leaf
// diffs (what the admin changed), and replaying a diff over another document. No I/O here.
import { formatPath } from '../config/validate.js';

export type DocPath = Array<string | number>;
type Obj = Record<string, unknown>;

/** What GET /api/config shows instead of a secret; a PUT that sends it back keeps the old value. */
export const MASK = '********';

/**
 * Settings that are write-only. Matched by key name so a secret added to the schema later is masked
 * without touching this file (sharedSecret, clientSecret, privateKeyPem, jiraGroupLookup.authorization,
 * rateLimit.redisUrl and notifications.email.smtpUrl which may carry a password, and any *secret / *password / *privateKey* key).
 */
/** A secret by where it sits: the database URL carries its password (store.url). */
export function isSecretAt(path: DocPath, key: string | number): boolean {
  return isSecretKey(key) || (key === 'url' && path.length === 1 && path[0] === 'store');
}

export function isSecretKey(key: string | number): boolean {
  if (typeof key !== 'string') return false;
  // ...but not the name of the header a secret travels in, or the path of the file that holds one.
  return /secret|password|privatekey|^authorization$|^redisurl$|^smtpurl$|apikey/i.test(key) && !/(header|file)$/i.test(key);
}

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

export function getIn(doc: unknown, path: DocPath): unknown {
  let cur = doc;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Obj)[p as string];
  }
  return cur;
}

/** Sets (or with value undefined, deletes) a value, creating objects on the way. Mutates doc. */
export function setIn(doc: Obj, path: DocPath, value: unknown): void {
  let cur: Obj = doc;
  for (const [i, p] of path.slice(0, -1).entries()) {
    let next = (cur as Obj)[p as string];
    if (next === null || typeof next !== 'object') {
      next = typeof path[i + 1] === 'number' ? [] : {};
      (cur as Obj)[p as string] = next;
    }
    cur = next as Obj;
  }
  const last = path[path.length - 1]!;
  if (value === undefined) {
    if (Array.isArray(cur) && typeof last === 'number') cur.splice(last, 1);
    else delete cur[last as string];
  } else cur[last as string] = value;
}

/** Every secret replaced by MASK (unset secrets stay absent). Returns a copy. */
export function maskSecrets<T>(value: T): T {
  const walk = (v: unknown, path: DocPath): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (isObj(v)) {
      const out: Obj = {};
      for (const [k, x] of Object.entries(v)) out[k] = isSecretAt(path, k) && x !== undefined && x !== null && x !== '' ? MASK : walk(x, [...path, k]);
      return out;
    }
    return v;
  };
  return walk(value, []) as T;
}

/** Paths of the secrets that are set, e.g. ["upstream.sharedSecret"]. */
export function secretPaths(value: unknown, path: DocPath = [], out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v, i) => secretPaths(v, [...path, i], out));
  else if (isObj(value))
    for (const [k, v] of Object.entries(value)) {
      if (isSecretAt(path, k) && v !== undefined && v !== null && v !== '') out.push(formatPath([...path, k]));
      else secretPaths(v, [...path, k], out);
    }
  return out;
}

/**
 * A document sent by the admin, with every MASK replaced by the current value at the same path
 * (so "send the GET back with one field changed" keeps the secrets). A MASK where nothing is
 * stored is dropped. Returns a copy.
 */
export function unmaskSecrets(sent: Obj, current: unknown): Obj {
  const walk = (v: unknown, path: DocPath): unknown => {
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (isObj(v)) {
      const out: Obj = {};
      for (const [k, x] of Object.entries(v)) {
        if (isSecretAt(path, k) && x === MASK) {
          const old = getIn(current, [...path, k]);
          if (old !== undefined) out[k] = old;
        } else out[k] = walk(x, [...path, k]);
      }
      return out;
    }
    return v;
  };
  return walk(sent, []) as Obj;
}

export interface Change {
  path: DocPath;
  /** undefined: the setting did not exist (or was removed). */
  before: unknown;
  after: unknown;
}

/**
 * The leaves that differ between two documents. Objects recurse key by key; arrays of equal length
 * recurse by index; an array whose length changed is one change (replaced whole).
 *   diffLeaves({a:{b:1,c:2}}, {a:{b:1,c:3}}) -> [{path:['a','c'], before:2, after:3}]
 */
export function diffLeaves(before: unknown, after: unknown, path: DocPath = [], out: Change[] = []): Change[] {
  if (isObj(before) && isObj(after)) {
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of keys) diffLeaves(before[k], after[k], [...path, k], out);
  } else if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    before.forEach((v, i) => diffLeaves(v, after[i], [...path, i], out));
  } else if (!deepEqual(before, after)) out.push({ path, before, after });
  return out;
}

/** Replays changes over a copy of base (the admin's edits over a new startup configuration). */
export function applyChanges(base: Obj, changes: ReadonlyArray<{ path: DocPath; after?: unknown }>): Obj {
  const out = structuredClone(base);
  for (const c of changes) setIn(out, c.path, structuredClone(c.after));
  return out;
}

/** A change list safe for the admin-activity log: secrets masked, paths formatted. */
export function maskedChanges(changes: Change[]): Array<{ path: string; before: unknown; after: unknown }> {
  return changes.map((c) => {
    const secret = c.path.some((k, i) => isSecretAt(c.path.slice(0, i), k));
    const show = (v: unknown) => (v === undefined ? null : secret ? MASK : maskSecrets(v));
    return { path: formatPath(c.path), before: show(c.before), after: show(c.after) };
  });
}
