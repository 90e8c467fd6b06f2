// Which kind of route a request is on, judged on the canonical path (see canonical.ts):
// outside protectedPaths -> unprotected (Jira UI, static: passes through), a bypass pattern ->
// bypass (never authenticated), a publicApiLockdown path -> lockdown (a credential is required where
// Jira would allow anonymous), everything else under protectedPaths -> guarded.
import { perPolicy } from '../../config/policy.js';
import { findPattern, parsePathPattern, type PathPattern } from '../path-pattern.js';
import type { RouteKind, Verdict } from '../state.js';
import { canonicalisePath } from './canonical.js';
import { jiraRewrite } from './jira-rewrite.js';

export interface RouteView {
  readonly enabled: boolean;
  /** Canonical prefixes; "/rest/" also covers "/rest" (the servlet mapping "/rest/*" does too). */
  readonly protectedPaths: readonly string[];
  readonly bypass: readonly PathPattern[];
  readonly lockdown: { readonly enabled: boolean; readonly all: boolean; readonly paths: readonly PathPattern[] };
}

export const routeView = perPolicy<RouteView>((c) =>
  Object.freeze({
    enabled: c.enabled,
    protectedPaths: c.protectedPaths.map((p) => {
      const cp = canonicalisePath(p);
      if (!cp.ok) throw new TypeError(`protectedPaths "${p}": ${cp.reason}`);
      return p.endsWith('/') && !cp.path.endsWith('/') ? `${cp.path}/` : cp.path;
    }),
    bypass: c.bypass.map(parsePathPattern),
    lockdown: { enabled: c.publicApiLockdown.enabled, all: c.publicApiLockdown.all, paths: c.publicApiLockdown.paths.map(parsePathPattern) },
  }),
);

export type RouteDecision =
  | { ok: true; canonicalPath: string; altered: boolean; route: RouteKind; verdicts: Verdict[] }
  | { ok: false; reason: string; rule: string; verdicts: Verdict[] };

const v = (rule: string, outcome: Verdict['outcome'], detail: string): Verdict => ({ stage: 'route-rules', rule, outcome, detail });

function isProtected(prefixes: readonly string[], path: string): string | undefined {
  for (const p of prefixes) if (path.startsWith(p) || (p.endsWith('/') && path === p.slice(0, -1))) return p;
  return undefined;
}

/** Strictness of a route: a request judged under several candidate paths takes the strictest. */
const STRICTNESS: Record<RouteKind, number> = { unprotected: 0, bypass: 1, guarded: 2, lockdown: 3 };

/**
 * Precedence: an explicitly listed lockdown path beats a bypass (the stricter, more specific rule);
 * a bypass beats `lockdown.all` (so a health check on serverInfo keeps working when everything else
 * is locked down). A bypass is honoured only for a clean spelling: a path that needed dot-segment
 * resolution or had ";parameters" removed is judged as guarded instead (parsers disagree on those).
 *
 * A path Jira rewrites ("/s/…/_/rest/…", see jira-rewrite.ts) is judged at every path Jira may
 * route it to, and the strictest route wins.
 */
export function decideRoute(method: string, rawTarget: string, view: RouteView): RouteDecision {
  const c = canonicalisePath(rawTarget);
  if (!view.enabled) {
    // Master switch off: forward untouched (still audited). Every later stage skips unprotected routes.
    const verdicts = [v('enabled', 'skip', 'enabled: false: forwarded without checks (identity headers are still stripped)')];
    return { ok: true, canonicalPath: c.ok ? c.path : rawTarget.split('?')[0]!, altered: c.ok && c.altered, route: 'unprotected', verdicts };
  }
  if (!c.ok) return refused(c.reason);
  const verdicts = [v('canonical-path', 'info', c.notes.length ? `${c.path} (${c.notes.join(', ')})` : c.path)];
  const rewrite = jiraRewrite(c.rawPath, c.path, c.altered);
  if (rewrite && !rewrite.ok) return refused(rewrite.reason, 'jira-rewrite');
  if (!rewrite) return judgePath(method, c.path, c.altered, view, verdicts);

  verdicts.push(v('jira-rewrite', 'info', `${rewrite.note}: judged at ${[...rewrite.candidates, c.path].join(', ')}; the strictest route applies`));
  let best: RouteDecision & { ok: true } = judgePath(method, c.path, true, view, []);
  for (const p of rewrite.candidates) {
    const r = judgePath(method, p, true, view, []);
    if (STRICTNESS[r.route] >= STRICTNESS[best.route]) best = r;
  }
  return { ...best, verdicts: [...verdicts, ...best.verdicts] };
}

/**
 * The route of a path already canonical, as recorded in an audit row (replay): what decideRoute
 * concludes for it, `altered` as recorded (a recorded spelling that needed resolution never earns a
 * bypass). Jira's /s/…/_/ rewrite was resolved when the row was written: its path is the one judged.
 */
export function routeOfRecordedPath(method: string, path: string, altered: boolean, view: RouteView): RouteDecision & { ok: true } {
  if (!view.enabled) return { ok: true, canonicalPath: path, altered, route: 'unprotected', verdicts: [v('enabled', 'skip', 'enabled: false')] };
  return judgePath(method, path, altered, view, []);
}

function refused(reason: string, rule = 'canonical-path'): RouteDecision {
  return { ok: false, reason, rule, verdicts: [{ ...v(rule, 'deny', reason), code: 'path_invalid' }] };
}

/** The route of one canonical path; `altered` paths never earn a bypass. */
function judgePath(method: string, path: string, altered: boolean, view: RouteView, verdicts: Verdict[]): RouteDecision & { ok: true } {
  const done = (route: RouteKind) => ({ ok: true as const, canonicalPath: path, altered, route, verdicts });

  const prefix = isProtected(view.protectedPaths, path);
  if (!prefix) {
    verdicts.push(v('protectedPaths', 'info', 'outside protectedPaths: unprotected'));
    return done('unprotected');
  }
  verdicts.push(v('protectedPaths', 'info', `under ${prefix}`));

  const lockdown = view.lockdown.enabled;
  const listed = lockdown ? findPattern(view.lockdown.paths, method, path) : undefined;
  if (listed) {
    verdicts.push(v('publicApiLockdown', 'info', `listed "${listed.source}": a credential is required`));
    return done('lockdown');
  }
  const bypass = findPattern(view.bypass, method, path);
  if (bypass && !altered) {
    verdicts.push(v('bypass', 'info', `"${bypass.source}": not authenticated`));
    return done('bypass');
  }
  if (bypass) verdicts.push(v('bypass', 'skip', `"${bypass.source}" matches only after dot-segments or ;parameters were resolved (or Jira's /s/…/_/ rewrite): judged as guarded`));
  if (lockdown && view.lockdown.all) {
    verdicts.push(v('publicApiLockdown', 'info', 'all: a credential is required'));
    return done('lockdown');
  }
  return done('guarded');
}
