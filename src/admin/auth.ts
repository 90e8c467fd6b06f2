// Admin authentication: session cookie (HttpOnly, SameSite=Strict) + CSRF token on every write, or
// `Authorization: Bearer <admin API key>` for scripts. Login failures back off per username and per IP.
import { createHash, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { AdminAccounts, type SessionInfo } from './accounts.js';
import { fieldError, readJson, reqString } from './http-util.js';
import { dummyHash, passwordProblem, verifyPassword } from './password.js';
import { recordAdminAction } from './activity.js';

export const SESSION_COOKIE = 'sidecar_admin';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Who is calling the admin API (ctx.state.admin). */
export interface AdminPrincipal {
  username: string;
  via: 'session' | 'api-key';
  session?: SessionInfo;
  /** For session callers: the CSRF token every write must echo in X-CSRF-Token. */
  csrfToken?: string;
  apiKeyId?: string;
}

/**
 * The CSRF token is derived from the session id (not stored): only a holder of the HttpOnly cookie
 * value can compute it, and a cross-site page can neither read the cookie nor our JSON answers
 * (OWASP CSRF cheat sheet, "synchronizer token"; SameSite=Strict is the second layer).
 */
export const csrfFor = (sessionId: string) => createHash('sha256').update(`csrf\0${sessionId}`).digest('base64url');

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** No Origin header (curl, older browsers on same-origin GET-less paths) is fine; a foreign one is not. */
function sameOrigin(origin: string, host: string): boolean {
  if (!origin) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false; // "null" (sandboxed frame, file:) or garbage
  }
}

/** A request cookie's value (koa's cookie jar; unsigned: the value is a random session id checked against the store). */
const readCookie = (ctx: Context, name: string): string | undefined => ctx.cookies.get(name, { signed: false }) || undefined;

function setSessionCookie(ctx: Context, value: string, maxAgeSec: number) {
  // Secure only when the admin listener itself speaks TLS: it is plain HTTP on 127.0.0.1 by default.
  const secure = ctx.secure ? '; Secure' : '';
  // Path=/api/: cookies are per host, not per port (RFC 6265 §8.5), so a browser would also send an
  // admin cookie to the proxy listener on the same host, and the proxy forwards cookies to Jira.
  // Only the API needs it; Jira's UI and REST paths never start with /api/.
  ctx.set('Set-Cookie', `${SESSION_COOKIE}=${value}; Path=/api/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSec}${secure}`);
}

export function adminAccountsOf(rt: Runtime): AdminAccounts {
  return ((rt as unknown as { adminAccounts?: AdminAccounts }).adminAccounts ??= new AdminAccounts(rt.stores.admin, () => rt.deps.clock.now()));
}

const peerIp = (ctx: Context) => ctx.req.socket.remoteAddress ?? '';

/** Authenticates every /api/* request except login; refuses session writes without the CSRF token. */
export function requireAdmin(rt: Runtime, open: Set<string>): Middleware {
  const accounts = adminAccountsOf(rt);
  return async function requireAdmin(ctx, next) {
    if (!ctx.path.startsWith('/api/') || open.has(`${ctx.method} ${ctx.path}`)) return next();
    const auth = ctx.get('authorization');
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const key = m && (await accounts.useApiKey(m[1]!));
      if (!key) throw new SidecarError('admin_auth_required', { detail: 'unknown, revoked or expired admin API key' });
      ctx.state.admin = { username: `api-key:${key.name}`, via: 'api-key', apiKeyId: key.id } satisfies AdminPrincipal;
      return next();
    }
    const sid = readCookie(ctx, SESSION_COOKIE);
    const session = sid ? await accounts.findSession(sid) : undefined;
    if (!sid || !session) throw new SidecarError('admin_auth_required');
    const csrfToken = csrfFor(sid);
    if (!SAFE_METHODS.has(ctx.method)) {
      if (!sameSecret(ctx.get('x-csrf-token'), csrfToken)) throw new SidecarError('csrf_invalid');
      // Defence in depth: a browser names the page that sent a write (Fetch Metadata, RFC 6454 Origin).
      if (ctx.get('sec-fetch-site') === 'cross-site' || !sameOrigin(ctx.get('origin'), ctx.get('host')))
        throw new SidecarError('csrf_invalid', { detail: 'cross-origin write' });
    }
    await accounts.touchSession(session.idHash);
    ctx.state.admin = { username: session.username, via: 'session', session, csrfToken } satisfies AdminPrincipal;
    return next();
  };
}

export const principal = (ctx: Context): AdminPrincipal => ctx.state.admin as AdminPrincipal;

/** Routes that work without a session. */
export const OPEN_ROUTES = new Set(['POST /api/login', 'POST /api/logout']);

export function registerAuthRoutes(router: Router, rt: Runtime): void {
  const accounts = adminAccountsOf(rt);
  const ttl = () => rt.deps.getPolicy().config.admin.sessionTtlSec;

  router.post('/api/login', async (ctx) => {
    const body = await readJson(ctx);
    const username = reqString(body, 'username', 128);
    const password = reqString(body, 'password', 1024);
    const keys = [`user:${username}`, `ip:${peerIp(ctx)}`];
    const wait = await accounts.lockedForMs(keys);
    if (wait > 0) throw new SidecarError('login_throttled', { headers: { 'Retry-After': String(Math.ceil(wait / 1000)) } });
    const user = await accounts.findUser(username);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyHash()));
    if (!user || !ok) {
      await accounts.recordFailure(keys);
      rt.deps.logger.warn({ username, ip: peerIp(ctx) }, 'admin login failed');
      await recordAdminAction(rt, { actor: username, action: 'admin.login_failed', after: { ip: peerIp(ctx) } });
      throw new SidecarError('login_failed');
    }
    await accounts.clearFailures(keys);
    const { sessionId } = await accounts.createSession(user.id, ttl(), peerIp(ctx));
    setSessionCookie(ctx, sessionId, ttl());
    await recordAdminAction(rt, { actor: username, action: 'admin.login', after: { ip: peerIp(ctx) } });
    ctx.body = { username, csrfToken: csrfFor(sessionId) };
  });

  // Logout needs no CSRF token: the worst a forged logout does is end a session.
  router.post('/api/logout', async (ctx) => {
    const sid = readCookie(ctx, SESSION_COOKIE);
    const session = sid ? await accounts.findSession(sid) : undefined;
    if (session) {
      await accounts.deleteSession(session.idHash);
      await recordAdminAction(rt, { actor: session.username, action: 'admin.logout' });
    }
    setSessionCookie(ctx, '', 0);
    ctx.body = { ok: true };
  });

  router.get('/api/session', (ctx) => {
    const p = principal(ctx);
    ctx.body = { username: p.username, via: p.via, csrfToken: p.csrfToken ?? null, expiresAt: p.session?.expiresAt ?? null };
  });

  router.post('/api/password', async (ctx) => {
    const p = principal(ctx);
    if (p.via !== 'session' || !p.session) throw new SidecarError('forbidden', { message: 'Change the password from a logged-in session (or with `jira-auth-sidecar admin set-password`).' });
    const body = await readJson(ctx);
    const current = reqString(body, 'currentPassword', 1024);
    const next = body.newPassword;
    const problem = passwordProblem(next);
    if (problem) throw fieldError('newPassword', problem);
    const user = await accounts.findUser(p.session.username);
    if (!user || !(await verifyPassword(current, user.passwordHash))) throw fieldError('currentPassword', 'is not the current password');
    await accounts.setPassword(user.username, next as string);
    // setPassword ended every session; keep this browser logged in with a fresh one.
    const { sessionId } = await accounts.createSession(user.id, ttl(), peerIp(ctx));
    setSessionCookie(ctx, sessionId, ttl());
    await recordAdminAction(rt, { actor: user.username, action: 'admin.password_change' });
    ctx.body = { ok: true, csrfToken: csrfFor(sessionId) };
  });

  router.get('/api/admin-keys', async (ctx) => {
    ctx.body = { keys: await accounts.listApiKeys() };
  });
  router.post('/api/admin-keys', async (ctx) => {
    const body = await readJson(ctx);
    const name = reqString(body, 'name', 100);
    let expiresAt: number | null = null;
    if (body.expiresInDays !== undefined && body.expiresInDays !== null && body.expiresInDays !== '') {
      const d = Number(body.expiresInDays);
      if (!Number.isInteger(d) || d < 1 || d > 3650) throw fieldError('expiresInDays', 'must be a whole number of days from 1 to 3650');
      expiresAt = rt.deps.clock.now() + d * 86_400_000;
    }
    const { key, apiKey } = await accounts.createApiKey(name, principal(ctx).username, expiresAt);
    await recordAdminAction(rt, { actor: principal(ctx).username, action: 'admin_key.create', target: apiKey.id, after: { name, expiresAt } });
    ctx.status = 201;
    ctx.body = { key, apiKey };
  });
  router.delete('/api/admin-keys/:id', async (ctx) => {
    const k = await accounts.revokeApiKey(ctx.params.id!);
    if (!k) throw new SidecarError('not_found');
    await recordAdminAction(rt, { actor: principal(ctx).username, action: 'admin_key.revoke', target: k.id });
    ctx.body = { apiKey: k };
  });
}
