// The self-service page on the proxy listener (issue 19): users who may mint API tokens sign in with
// the configured OIDC provider and list, create, rotate and revoke their tokens in a browser.
//
//   GET  /_sidecar/tokens/ui              the page (signed in), else a redirect to the IdP
//   GET  /_sidecar/tokens/ui/app.js|.css  the page's script and stylesheet (no inline script or style)
//   GET  /_sidecar/tokens/callback        the IdP's answer: state, PKCE verifier and nonce checked, code exchanged
//   POST /_sidecar/tokens/ui/logout       ends the page session (X-CSRF-Token)
//   GET  /_sidecar/tokens/ui/signed-out   says so
//   any  /_sidecar/tokens[/…] with the page's session cookie and X-CSRF-Token: the JSON API of
//        self-service.ts, authenticated with the session's access token as the Bearer, so the
//        proxy's own stages judge it exactly as an API caller's JWT (issuer rules, allowedGroups,
//        IP allow-lists, rate limit, apiTokens.creatorGroups).
// Mounted before the JSON API route (rt.proxyRoutes order). Sessions and sign-in attempts live in
// this process's memory (sessions.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Context, Middleware, Next } from 'koa';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import type { RequestFacts, RequestState } from '../pipeline/state.js';
import type { Policy } from '../config/policy.js';
import { SELF_SERVICE_BASE } from '../pipeline/verify/api-token/self-service.js';
import { clientIpView, resolveClientIp } from '../pipeline/client-ip/resolve.js';
import { findRange, parseIp } from '../pipeline/ip-match.js';
import { outcomeOf, toAuditRecord } from '../pipeline/outcome.js';
import { discoveryUrlOf, SELF_SERVICE_CALLBACK_PATH } from '../config/self-service-schema.js';
import { describe, finishLogin, OidcProviders, ProviderUnavailable, startLogin } from './oidc.js';
import { hashOf, ID_SHAPE, LOGIN_TTL_MS, PageRecords, randomId, sameSecret, type PageSession } from './sessions.js';
import { APP_CSS, APP_JS, messagePage, PAGE_CSP, tokensPage } from './assets.js';

const BASE = SELF_SERVICE_BASE;
export const PAGE_PATH = `${BASE}/ui`;
export const CALLBACK_PATH = SELF_SERVICE_CALLBACK_PATH;
/** The page session (HttpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'sidecar_tokens_session';
/** Binds a sign-in attempt to the browser that started it (HttpOnly, SameSite=Lax: it must come back from the IdP). */
export const LOGIN_COOKIE = 'sidecar_tokens_login';
/**
 * Both cookies: only the sidecar's own /_sidecar/tokens routes ever see them (cookies are per host,
 * not per port, and the proxy forwards cookies to Jira; no Jira path starts with this).
 */
const COOKIE_PATH = BASE;
const DAY_MS = 86_400_000;
const SAFE_HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

declare module '../pipeline/deps.js' {
  interface Services {
    /** The self-service page's sessions and sign-in attempts (this process only). */
    selfServicePage?: PageRecords;
  }
}

/** Adds the page to the proxy listener; must run before the JSON API route is pushed. */
export function installSelfServicePage(rt: Runtime): void {
  rt.proxyRoutes.push(selfServicePage(rt));
}

/** A request cookie's value (koa's cookie jar; unsigned: the value is a random session id checked against the store). */
const readCookie = (ctx: Context, name: string): string | undefined => ctx.cookies.get(name, { signed: false }) || undefined;

/** The right-most value of a (possibly repeated, comma-separated) header. */
function lastValue(ctx: Context, name: string): string | undefined {
  const v = ctx.req.headers[name];
  const joined = Array.isArray(v) ? v.join(',') : v;
  const last = joined?.split(',').pop()?.trim();
  return last || undefined;
}

/**
 * The origin the browser sees: selfService.redirectUrl's when set; else the request's scheme (TLS,
 * or X-Forwarded-Proto from a peer in access.trustedProxies) and host (Host, or X-Forwarded-Host
 * from such a peer).
 */
function publicOrigin(ctx: Context, policy: Policy): string {
  const configured = policy.config.selfService.redirectUrl;
  if (configured) return new URL(configured).origin;
  const peer = parseIp(ctx.req.socket.remoteAddress ?? '');
  const trusted = peer !== undefined && findRange(peer, clientIpView(policy).trustedProxies) !== undefined;
  const tls = (ctx.req.socket as { encrypted?: boolean }).encrypted === true;
  const proto = tls || (trusted && lastValue(ctx, 'x-forwarded-proto')?.toLowerCase() === 'https') ? 'https' : 'http';
  const host = (trusted && lastValue(ctx, 'x-forwarded-host')) || ctx.get('host');
  if (!host || !SAFE_HOST.test(host)) throw new SidecarError('bad_request', { rule: 'selfService.redirectUrl', message: 'The Host header cannot name this page; set selfService.redirectUrl.' });
  return `${proto}://${host}`;
}

function cookie(name: string, value: string, o: { maxAgeSec: number; sameSite: 'Strict' | 'Lax'; secure: boolean }): string {
  return `${name}=${value}; Path=${COOKIE_PATH}; HttpOnly; SameSite=${o.sameSite}; Max-Age=${o.maxAgeSec}${o.secure ? '; Secure' : ''}`;
}

/** Every answer of the page routes: nothing framed, cached, sniffed or sent as a referrer. */
function pageHeaders(ctx: Context): void {
  ctx.set('Content-Security-Policy', PAGE_CSP);
  ctx.set('X-Frame-Options', 'DENY');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.set('Referrer-Policy', 'no-referrer');
  ctx.set('Cross-Origin-Opener-Policy', 'same-origin');
  ctx.set('Cross-Origin-Resource-Policy', 'same-origin');
  ctx.set('Cache-Control', 'no-store');
}

function html(ctx: Context, status: number, body: string): void {
  pageHeaders(ctx);
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = body;
}

/** Swaps the page's cookie and CSRF header for the session's access token as the Bearer. */
function withBearer(facts: RequestFacts, accessToken: string): RequestFacts {
  const rawHeaders: string[] = [];
  const raw = facts.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!.toLowerCase();
    if (n === 'cookie' || n === 'authorization' || n === 'x-csrf-token') continue;
    rawHeaders.push(raw[i]!, raw[i + 1]!);
  }
  rawHeaders.push('Authorization', `Bearer ${accessToken}`);
  const headers: IncomingHttpHeaders = { ...facts.headers, authorization: `Bearer ${accessToken}` };
  delete headers.cookie;
  delete headers['x-csrf-token'];
  return { ...facts, headers, rawHeaders };
}

export function selfServicePage(rt: Runtime): Middleware {
  const d = rt.deps;
  const now = () => d.clock.now();
  const records = (d.services.selfServicePage ??= new PageRecords(now));
  const providers = new OidcProviders(now, d.logger);

  // Every proxied request passes here: a target that cannot be ours goes on at once.
  return function selfServicePage(ctx, next) {
    const target = ctx.req.url ?? '';
    if (target.startsWith('/') && !target.startsWith(BASE)) return next();
    return handle(ctx, next);
  };

  async function handle(ctx: Context, next: Next): Promise<unknown> {
    const path = ctx.path;
    if (path !== BASE && !path.startsWith(`${BASE}/`)) return next();
    const st = ctx.state as RequestState;
    const cfg = st.policy.config.selfService;
    if (path === PAGE_PATH || path.startsWith(`${PAGE_PATH}/`) || path === CALLBACK_PATH) {
      if (!cfg.enabled || !st.policy.config.apiTokens.enabled) throw new SidecarError('not_found', { rule: 'selfService.enabled', detail: 'the self-service page is disabled' });
      return pageRoute(ctx, st, path);
    }
    if (!cfg.enabled) return next();
    // An API caller with its own credential: the page's cookie (if any) plays no part.
    if (ctx.req.headers.authorization !== undefined) return next();
    const csrfHeader = ctx.get('x-csrf-token');
    // A browser opening the JSON API's address gets the page.
    if (!csrfHeader && (ctx.method === 'GET' || ctx.method === 'HEAD') && path === BASE && /text\/html/i.test(ctx.get('accept'))) {
      ctx.set('Cache-Control', 'no-store');
      ctx.status = 303;
      ctx.redirect(PAGE_PATH);
      return;
    }
    const sid = readCookie(ctx, SESSION_COOKIE);
    if (sid === undefined && !csrfHeader) return next(); // no page session: the API's own answer (401 credential_missing)
    return viaSession(ctx, next, st, sid, csrfHeader, path);
  }

  /** A JSON API call of the page: session + CSRF token, then the API with the session's Bearer. */
  async function viaSession(ctx: Context, next: Next, st: RequestState, sid: string | undefined, csrfHeader: string, path: string): Promise<void> {
    const session = records.findSession(sid);
    const refuse = (e: SidecarError): never => {
      auditRefusal(st, path, e);
      throw e;
    };
    if (!session) refuse(new SidecarError('credential_missing', { rule: 'selfService.session', message: 'Your sign-in to the token page has ended; reload the page to sign in again.' }));
    checkCsrf(ctx, st, session!, csrfHeader, refuse);
    st.facts = withBearer(st.facts, session!.accessToken);
    await next();
    if (ctx.method === 'GET' && path === BASE && ctx.status === 200) await addUsage(ctx.body);
  }

  function checkCsrf(ctx: Context, st: RequestState, session: PageSession, sent: string, refuse: (e: SidecarError) => never): void {
    if (!sent || !sameSecret(sent, session.csrfToken)) refuse(new SidecarError('csrf_invalid', { rule: 'selfService.csrf' }));
    // Defence in depth: the browser names who sent the call (Fetch Metadata, else Origin).
    const site = ctx.get('sec-fetch-site');
    const origin = ctx.get('origin');
    if (site ? site !== 'same-origin' : origin !== '' && origin !== publicOrigin(ctx, st.policy)) {
      refuse(new SidecarError('csrf_invalid', { rule: 'selfService.csrf', detail: `cross-origin call (sec-fetch-site ${site || '-'}, origin ${origin || '-'})` }));
    }
  }

  /** requests30d on each listed token: the audit rows of requests made with it in the last 30 days. */
  async function addUsage(body: unknown): Promise<void> {
    const tokens = (body as { tokens?: Array<Record<string, unknown>> } | undefined)?.tokens;
    if (!Array.isArray(tokens)) return;
    const from = now() - 30 * DAY_MS;
    await Promise.all(
      tokens.map(async (t) => {
        try {
          t.requests30d = await rt.stores.audit.count({ token: String(t.id), credentialKind: 'api-token', from });
        } catch (err) {
          t.requests30d = null;
          d.logger.warn({ err, tokenId: t.id }, 'self-service page: request count not read');
        }
      }),
    );
  }

  /** The audit row of a call the page's session checks refused (the JSON API never saw it). */
  function auditRefusal(st: RequestState, path: string, e: SidecarError): void {
    st.route = 'guarded';
    st.canonicalPath = path;
    st.clientIp ??= resolveClientIp(st.facts, clientIpView(st.policy)).ip;
    const record = { ...toAuditRecord(st, outcomeOf(st, e, e.status), now()), decision: 'deny' as const, reason: e.code, status: e.status, rule: e.rule ?? null };
    try {
      d.auditSink.write(record);
    } catch (err) {
      d.logger.warn({ err, requestId: st.requestId }, 'self-service page: audit row not written');
    }
  }

  async function pageRoute(ctx: Context, st: RequestState, path: string): Promise<void> {
    const get = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (path === `${PAGE_PATH}/app.js` && get) return asset(ctx, 'text/javascript; charset=utf-8', APP_JS);
    if (path === `${PAGE_PATH}/app.css` && get) return asset(ctx, 'text/css; charset=utf-8', APP_CSS);
    if (path === CALLBACK_PATH && get) return callback(ctx, st);
    if (path === PAGE_PATH && get) {
      const session = records.findSession(readCookie(ctx, SESSION_COOKIE));
      if (!session) return signIn(ctx, st);
      const cfg = st.policy.config;
      return html(ctx, 200, tokensPage({ base: BASE, csrfToken: session.csrfToken, displayName: session.displayName, maxLifetimeDays: cfg.apiTokens.maxLifetimeDays, approval: cfg.apiTokens.approval }));
    }
    if (path === `${PAGE_PATH}/logout` && ctx.method === 'POST') return logout(ctx, st);
    if (path === `${PAGE_PATH}/signed-out` && get) {
      return html(ctx, 200, messagePage({ base: BASE, title: 'Signed out', text: 'You are signed out of the API token page. Your tokens keep working until they expire or you revoke them.', link: { href: PAGE_PATH, label: 'Sign in again' } }));
    }
    if (get || ctx.method === 'POST') throw new SidecarError('not_found', { rule: 'selfService:route' });
    throw new SidecarError('bad_request', { rule: 'selfService:method', message: 'Use GET here.', headers: { Allow: 'GET, HEAD' } });
  }

  function asset(ctx: Context, type: string, body: string): void {
    pageHeaders(ctx);
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = type;
    ctx.body = body;
  }

  function problem(ctx: Context, status: number, title: string, text: string): void {
    html(ctx, status, messagePage({ base: BASE, title, text, link: { href: PAGE_PATH, label: 'Start again' } }));
  }

  function providerSettings(policy: Policy) {
    const cfg = policy.config.selfService;
    const iss = policy.config.jwt.issuers.find((i) => i.name === cfg.issuer);
    const discoveryUrl = iss && discoveryUrlOf(iss);
    // The configuration check refuses both; a reload may still race a request.
    if (!discoveryUrl || !cfg.clientId) return undefined;
    return { discoveryUrl, clientId: cfg.clientId, clientSecret: cfg.clientSecret || undefined };
  }

  /** Not signed in: to the IdP, with a fresh state, PKCE verifier and nonce kept here. */
  async function signIn(ctx: Context, st: RequestState): Promise<void> {
    const cfg = st.policy.config.selfService;
    const settings = providerSettings(st.policy);
    if (!settings) return problem(ctx, 503, 'Sign-in is not set up', 'selfService.issuer names no usable JWT issuer. Ask your administrator.');
    const origin = publicOrigin(ctx, st.policy);
    const redirectUri = cfg.redirectUrl ?? `${origin}${CALLBACK_PATH}`;
    let started;
    try {
      started = await startLogin(await providers.get(settings), { redirectUri, scopes: cfg.scopes, resource: cfg.resource });
    } catch (err) {
      d.logger.warn({ requestId: st.requestId, err: describe(err) }, 'self-service page: sign-in could not start');
      return problem(ctx, 502, 'Sign-in is unavailable', 'The identity provider could not be reached. Try again in a moment.');
    }
    // One binding per browser for its concurrent attempts (two tabs): reuse a well-formed one.
    const existing = readCookie(ctx, LOGIN_COOKIE);
    const binding = existing && ID_SHAPE.test(existing) ? existing : randomId();
    records.addAttempt({ state: started.state, pkceVerifier: started.pkceVerifier, nonce: started.nonce, bindingHash: hashOf(binding), redirectUri });
    const secure = origin.startsWith('https:');
    ctx.append('Set-Cookie', cookie(LOGIN_COOKIE, binding, { maxAgeSec: LOGIN_TTL_MS / 1000, sameSite: 'Lax', secure }));
    pageHeaders(ctx);
    ctx.status = 302;
    ctx.redirect(started.url.href);
  }

  async function callback(ctx: Context, st: RequestState): Promise<void> {
    const cfg = st.policy.config.selfService;
    const q = new URLSearchParams(ctx.querystring);
    const state = q.get('state') ?? '';
    // Single use: the attempt is gone from here on, whatever the outcome (a replayed code or state finds nothing).
    const attempt = state ? records.takeAttempt(state) : undefined;
    const ip = resolveClientIp(st.facts, clientIpView(st.policy)).ip;
    if (q.get('error')) {
      const why = [q.get('error'), q.get('error_description')].filter(Boolean).join(': ').slice(0, 300);
      d.logger.info({ requestId: st.requestId, ip, error: why }, 'self-service page: the identity provider refused the sign-in');
      return problem(ctx, 400, 'Sign-in did not complete', `The identity provider answered: ${why}`);
    }
    if (!attempt) {
      d.logger.warn({ requestId: st.requestId, ip }, 'self-service page: callback with an unknown, expired or already used state');
      return problem(ctx, 400, 'This sign-in link is no longer valid', 'It is unknown here, expired, or was already used. Start again from the token page.');
    }
    const binding = readCookie(ctx, LOGIN_COOKIE);
    if (!binding || !sameSecret(hashOf(binding), attempt.bindingHash)) {
      d.logger.warn({ requestId: st.requestId, ip }, 'self-service page: callback from a browser that did not start the sign-in');
      return problem(ctx, 400, 'Sign-in did not complete', 'This sign-in was started in another browser. Start again from the token page.');
    }
    const settings = providerSettings(st.policy);
    if (!settings) return problem(ctx, 503, 'Sign-in is not set up', 'selfService.issuer names no usable JWT issuer. Ask your administrator.');
    const callbackUrl = new URL(attempt.redirectUri);
    for (const [k, v] of q) callbackUrl.searchParams.append(k, v);
    let done;
    try {
      done = await finishLogin(await providers.get(settings), callbackUrl, { state: attempt.state, pkceVerifier: attempt.pkceVerifier, nonce: attempt.nonce, resource: cfg.resource });
    } catch (err) {
      const unavailable = err instanceof ProviderUnavailable || (err instanceof TypeError && /fetch/i.test(err.message));
      d.logger.warn({ requestId: st.requestId, ip, err: describe(err) }, 'self-service page: sign-in failed');
      return unavailable
        ? problem(ctx, 502, 'Sign-in is unavailable', 'The identity provider could not be reached. Try again in a moment.')
        : problem(ctx, 400, 'Sign-in did not complete', 'The identity provider\'s answer could not be accepted. Start again from the token page.');
    }
    const c = done.claims ?? {};
    const pick = (k: string) => (typeof c[k] === 'string' && c[k] !== '' ? (c[k] as string) : undefined);
    const displayName = (pick('preferred_username') ?? pick('name') ?? pick('email') ?? pick('sub') ?? 'you').slice(0, 200);
    const t = now();
    const ttlMs = cfg.sessionTtlSec * 1000;
    // The session ends with its access token: the API would refuse it from then on anyway.
    const expiresAt = Math.min(t + ttlMs, done.expiresIn !== undefined ? t + done.expiresIn * 1000 : Infinity);
    const { cookie: value } = records.createSession({ accessToken: done.accessToken, displayName, expiresAt });
    const secure = publicOrigin(ctx, st.policy).startsWith('https:');
    ctx.append('Set-Cookie', cookie(SESSION_COOKIE, value, { maxAgeSec: Math.max(1, Math.floor((expiresAt - t) / 1000)), sameSite: 'Strict', secure }));
    d.logger.info({ requestId: st.requestId, ip, user: displayName, sub: pick('sub'), expiresAt: new Date(expiresAt).toISOString() }, 'self-service page: signed in');
    // The session cookie is SameSite=Strict and this answer ends a navigation that began at the
    // IdP: a redirect would be part of that cross-site chain and arrive without it. A page of our
    // own that moves on is a same-site navigation, which carries it.
    html(ctx, 200, messagePage({ base: BASE, title: 'Signed in', text: 'Opening your API tokens…', link: { href: PAGE_PATH, label: 'Continue' }, refreshTo: PAGE_PATH }));
  }

  async function logout(ctx: Context, st: RequestState): Promise<void> {
    const session = records.findSession(readCookie(ctx, SESSION_COOKIE));
    pageHeaders(ctx);
    if (session) {
      checkCsrf(ctx, st, session, ctx.get('x-csrf-token'), (e) => {
        throw e;
      });
      records.endSession(session.idHash);
      d.logger.info({ requestId: st.requestId, user: session.displayName }, 'self-service page: signed out');
    }
    const secure = publicOrigin(ctx, st.policy).startsWith('https:');
    ctx.append('Set-Cookie', cookie(SESSION_COOKIE, '', { maxAgeSec: 0, sameSite: 'Strict', secure }));
    ctx.status = 204;
  }
}
