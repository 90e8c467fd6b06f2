// Path patterns shared by route-rules (bypass, publicApiLockdown) and authorize (readSafePosts,
// API-token path scopes): "/exact", "/prefix/*", optionally "METHOD /path". Patterns are
// canonicalised like request paths, so "/rest/api/2/serverInfo" and a request spelled
// "/rest/api/2/server%49nfo" meet in the same form. Plain string comparison: no regexes.
import { canonicalisePath } from './route-rules/canonical.js';

export interface PathPattern {
  /** As written in the config (for verdicts). */
  readonly source: string;
  /** Upper-case method, when the pattern names one (methods are case-sensitive, RFC 9110 §9.1). */
  readonly method?: string;
  /** Canonical path, without the "/*" of a prefix pattern. */
  readonly path: string;
  readonly prefix: boolean;
}

/** Parses one pattern; a TypeError for a pattern that cannot match safely (a setup mistake). */
export function parsePathPattern(source: string): PathPattern {
  const m = /^(?:([A-Z]+) )?(\/\S*)$/.exec(source);
  if (!m) throw new TypeError(`path pattern "${source}": use "/exact", "/prefix/*" or "METHOD /path"`);
  const [, method, rawPath] = m as unknown as [string, string | undefined, string];
  const prefix = rawPath.endsWith('/*');
  const base = prefix ? rawPath.slice(0, -2) || '/' : rawPath;
  if (base.includes('*')) throw new TypeError(`path pattern "${source}": "*" is only allowed as a final "/*"`);
  if (base.includes('?')) throw new TypeError(`path pattern "${source}": a pattern matches the path only, without "?query"`);
  const c = canonicalisePath(base);
  if (!c.ok) throw new TypeError(`path pattern "${source}": ${c.reason}`);
  if (c.altered) throw new TypeError(`path pattern "${source}": write it without ";" parameters or "." / ".." segments`);
  const path = prefix ? c.path.replace(/\/$/, '') : c.path;
  return Object.freeze({ source, method, path, prefix });
}

/** Whether a canonical path (and method) matches: exact, or "/x/*" = "/x" and everything below it (not "/xy"). */
export function matchesPattern(p: PathPattern, method: string, canonicalPath: string): boolean {
  if (p.method !== undefined && p.method !== method) return false;
  if (!p.prefix) return canonicalPath === p.path;
  if (p.path === '') return true;
  return canonicalPath === p.path || canonicalPath.startsWith(`${p.path}/`);
}

/** The first pattern that matches, if any. */
export function findPattern(patterns: readonly PathPattern[], method: string, canonicalPath: string): PathPattern | undefined {
  for (const p of patterns) if (matchesPattern(p, method, canonicalPath)) return p;
  return undefined;
}
