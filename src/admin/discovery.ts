// POST /api/discovery {url}: fetches an OpenID Provider's discovery document for the issuer editor's
// "fetch discovery" button (the UI's CSP allows only same-origin requests, so the server fetches).
// Admin-only; http(s) only, bounded in time and size, and only three fields are returned.
import type Router from '@koa/router';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { fieldError, readJson, reqString } from './http-util.js';

const WELL_KNOWN = '/.well-known/openid-configuration';
const MAX_BYTES = 512 * 1024;

/** "https://idp/tenant/v2.0" -> "https://idp/tenant/v2.0/.well-known/openid-configuration" (OpenID Connect Discovery 1.0 §4). */
export function discoveryUrl(input: string): URL {
  let u: URL;
  try {
    u = new URL(input.trim());
  } catch {
    throw fieldError('url', 'must be an absolute URL, e.g. https://login.microsoftonline.com/<tenant>/v2.0');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw fieldError('url', 'must be an http(s) URL');
  if (!u.pathname.endsWith(WELL_KNOWN)) u.pathname = `${u.pathname.replace(/\/+$/, '')}${WELL_KNOWN}`;
  return u;
}

export function registerDiscoveryRoute(router: Router, _rt: Runtime): void {
  router.post('/api/discovery', async (ctx) => {
    const url = discoveryUrl(reqString(await readJson(ctx), 'url', 2048));
    let doc: Record<string, unknown>;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'follow', headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_BYTES) throw new Error('document too large');
      doc = JSON.parse(text) as Record<string, unknown>;
    } catch (e) {
      throw new SidecarError('bad_request', { message: `Could not read ${url.href}: ${(e as Error).message}`, issues: [{ path: 'url', message: `could not read the discovery document (${(e as Error).message})` }] });
    }
    const str = (v: unknown) => (typeof v === 'string' ? v : null);
    const algs = Array.isArray(doc.id_token_signing_alg_values_supported) ? doc.id_token_signing_alg_values_supported.filter((a): a is string => typeof a === 'string') : [];
    if (!str(doc.issuer) || !str(doc.jwks_uri)) throw fieldError('url', 'the document has no issuer or jwks_uri');
    ctx.body = { url: url.href, issuer: str(doc.issuer), jwksUri: str(doc.jwks_uri), algorithms: algs };
  });
}
