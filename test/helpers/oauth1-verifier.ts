// A Jira-like OAuth 1.0a service provider for tests: verifies RSA-SHA1 signatures written from RFC 5849
// alone (deliberately independent of src/pipeline/forward/oauth1: nothing is imported from it, and
// the encoding is built another way), keeps a nonce cache, refuses a clock skew like Jira's default
// validator (5 minutes), and answers as the impersonated user (xoauth_requestor_id). It also knows a
// few Jira PATs (Bearer) for credential-map tests. Every request is recorded so tests can replay
// a signed request with one part changed.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** Who the provider accepted the request as, or the OAuth problem it refused it with. */
  outcome: { user: string; via: 'oauth1' | 'pat' } | { problem: string };
}

export interface VerifyInput {
  method: string;
  /** Request target as received (origin-form with query). */
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export interface OAuth1ProviderOptions {
  consumerKey: string;
  publicKeyPem: string;
  /** The origin this "Jira" believes it is reached at (the base string URI uses it). Default: its own listen URL. */
  baseUrl?: string;
  maxSkewSec?: number;
  /** Jira PATs this provider accepts as Bearer, token -> username. */
  pats?: Record<string, string>;
}

// RFC 3986 unreserved set, per RFC 5849 §3.6. encodeURIComponent leaves !'()* alone: encode them too.
const pct = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** application/x-www-form-urlencoded -> [name, value] pairs (decoded), empty pairs ignored (as Tomcat does). */
function formPairs(s: string): Array<[string, string]> {
  const dec = (x: string) => decodeURIComponent(x.replace(/\+/g, '%20'));
  return s
    .split('&')
    .filter(Boolean)
    .map((kv) => {
      const i = kv.indexOf('=');
      return i < 0 ? [dec(kv), ''] : [dec(kv.slice(0, i)), dec(kv.slice(i + 1))];
    });
}

/** RFC 5849 §3.5.1 Authorization header -> decoded parameters (realm dropped, duplicates refused). */
function headerParams(value: string): Map<string, string> | undefined {
  const m = /^OAuth\s+(.*)$/is.exec(value.trim());
  if (!m) return undefined;
  const out = new Map<string, string>();
  for (const part of m[1]!.split(',')) {
    const kv = /^\s*([^=\s]+)\s*=\s*"([^"]*)"\s*$/.exec(part);
    if (!kv) return undefined;
    const name = decodeURIComponent(kv[1]!);
    if (out.has(name)) return undefined;
    if (name.toLowerCase() !== 'realm') out.set(name, decodeURIComponent(kv[2]!));
  }
  return out;
}

export class OAuth1Verifier {
  private readonly seenNonces = new Set<string>();
  private readonly key: KeyObject;
  get baseUrl(): string {
    return this.opts.baseUrl;
  }
  constructor(
    private readonly opts: OAuth1ProviderOptions & { baseUrl: string },
    private readonly now: () => number = () => Date.now(),
  ) {
    this.key = createPublicKey(opts.publicKeyPem);
  }

  /** The signature base string a correct client must have signed (RFC 5849 §3.4.1). */
  baseString(method: string, url: string, oauth: Map<string, string>, contentType: string | undefined, body: Buffer): { base: string; requestors: string[] } {
    // §3.4.1.2: scheme://host[:port unless default] + the path as received, no query.
    const base = new URL(this.opts.baseUrl);
    const uri = `${base.protocol}//${base.hostname.toLowerCase()}${base.port ? `:${base.port}` : ''}${url.split('?')[0]}`;
    const pairs: Array<[string, string]> = [];
    const q = url.indexOf('?');
    if (q >= 0) pairs.push(...formPairs(url.slice(q + 1)));
    if ((contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/x-www-form-urlencoded') pairs.push(...formPairs(body.toString('utf8')));
    const requestors = pairs.filter(([n]) => n === 'xoauth_requestor_id').map(([, v]) => v);
    for (const [n, v] of oauth) if (n !== 'oauth_signature') pairs.push([n, v]);
    const enc = pairs.map(([n, v]) => [pct(n), pct(v)]).sort((a, b) => (a[0] === b[0] ? (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0) : a[0]! < b[0]! ? -1 : 1));
    const norm = enc.map(([n, v]) => `${n}=${v}`).join('&');
    return { base: `${method.toUpperCase()}&${pct(uri)}&${pct(norm)}`, requestors };
  }

  /** Accepts the request as its requestor, or names the OAuth problem (Jira's oauth_problem values). */
  check(r: VerifyInput): { ok: true; user: string } | { ok: false; problem: string } {
    const oauth = r.authorization ? headerParams(r.authorization) : undefined;
    if (!oauth) return { ok: false, problem: 'parameter_absent' };
    for (const p of ['oauth_consumer_key', 'oauth_signature_method', 'oauth_signature', 'oauth_timestamp', 'oauth_nonce'])
      if (!oauth.has(p)) return { ok: false, problem: 'parameter_absent' };
    if (oauth.has('oauth_version') && oauth.get('oauth_version') !== '1.0') return { ok: false, problem: 'version_rejected' };
    if (oauth.get('oauth_signature_method') !== 'RSA-SHA1') return { ok: false, problem: 'signature_method_rejected' };
    if (oauth.get('oauth_consumer_key') !== this.opts.consumerKey) return { ok: false, problem: 'consumer_key_unknown' };
    if (oauth.get('oauth_token')) return { ok: false, problem: 'token_rejected' }; // 2-legged: no token
    const ts = Number(oauth.get('oauth_timestamp'));
    if (!Number.isInteger(ts) || Math.abs(this.now() / 1000 - ts) > (this.opts.maxSkewSec ?? 300)) return { ok: false, problem: 'timestamp_refused' };
    const { base, requestors } = this.baseString(r.method, r.url, oauth, r.contentType, r.body);
    const good = verify('RSA-SHA1', Buffer.from(base, 'utf8'), this.key, Buffer.from(oauth.get('oauth_signature')!, 'base64'));
    if (!good) return { ok: false, problem: 'signature_invalid' };
    const nonceKey = `${oauth.get('oauth_consumer_key')}|${ts}|${oauth.get('oauth_nonce')}`;
    if (this.seenNonces.has(nonceKey)) return { ok: false, problem: 'nonce_used' };
    this.seenNonces.add(nonceKey);
    if (requestors.length !== 1 || !requestors[0]) return { ok: false, problem: requestors.length ? 'parameter_rejected' : 'parameter_absent' };
    return { ok: true, user: requestors[0] };
  }
}

export interface OAuth1Jira {
  url: string;
  seen: RecordedRequest[];
  verifier: OAuth1Verifier;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}) => {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json;charset=UTF-8', 'Content-Length': Buffer.byteLength(s), ...extra });
  res.end(s);
};

export async function startOAuth1Jira(opts: OAuth1ProviderOptions): Promise<OAuth1Jira> {
  const seen: RecordedRequest[] = [];
  let verifier!: OAuth1Verifier;
  const server = http.createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const rec: RecordedRequest = { method: req.method!, url: req.url!, headers: req.headers, body, outcome: { problem: 'none' } };
      seen.push(rec);
      const auth = req.headers.authorization;
      let user: string | undefined;
      if (auth && /^bearer /i.test(auth)) {
        user = opts.pats?.[auth.slice(7).trim()];
        if (!user) {
          rec.outcome = { problem: 'pat_unknown' };
          return json(res, 401, { errorMessages: ['You are not authenticated.'] }, { 'X-Seraph-LoginReason': 'AUTHENTICATED_FAILED' });
        }
        rec.outcome = { user, via: 'pat' };
      } else {
        const r = verifier.check({ method: req.method!, url: req.url!, authorization: auth, contentType: req.headers['content-type'], body });
        if (!r.ok) {
          rec.outcome = { problem: r.problem };
          // How Jira's OAuth filter answers (atlassian-oauth): an OAuth challenge naming the problem.
          return json(res, 401, { errorMessages: ['OAuth problem'] }, {
            'WWW-Authenticate': `OAuth realm="${encodeURIComponent(verifier.baseUrl)}", oauth_problem="${r.problem}"`,
            'X-Seraph-LoginReason': 'AUTHENTICATION_DENIED',
          });
        }
        user = r.user;
        rec.outcome = { user, via: 'oauth1' };
      }
      const path = req.url!.split('?')[0];
      if (path === '/rest/api/2/myself') return json(res, 200, { name: user, key: user, active: true });
      return json(res, 200, {
        user,
        method: req.method,
        url: req.url,
        contentType: req.headers['content-type'] ?? null,
        body: body.toString('utf8'),
        sawAuthorization: req.headers.authorization ? req.headers.authorization.split(' ')[0] : null,
        cookie: req.headers.cookie ?? null,
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  verifier = new OAuth1Verifier({ ...opts, baseUrl: opts.baseUrl ?? url });
  return {
    url,
    seen,
    verifier,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Sends a recorded request again, straight to the provider, with optional changes (replay / tamper tests). */
export function replay(base: string, rec: RecordedRequest, change: { url?: string; body?: Buffer } = {}): Promise<{ status: number; problem?: string; user?: string }> {
  const body = change.body ?? rec.body;
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec.headers)) if (typeof v === 'string' && !['content-length', 'transfer-encoding', 'connection', 'host'].includes(k)) headers[k] = v;
  if (body.length) headers['content-length'] = String(body.length);
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: rec.method, path: change.url ?? rec.url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const m = /oauth_problem="([^"]+)"/.exec(String(res.headers['www-authenticate'] ?? ''));
        const text = Buffer.concat(chunks).toString('utf8');
        let user: string | undefined;
        try {
          user = (JSON.parse(text) as { user?: string; name?: string }).user ?? (JSON.parse(text) as { name?: string }).name;
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, ...(m ? { problem: m[1] } : {}), ...(res.statusCode === 200 && user ? { user } : {}) });
      });
    });
    req.on('error', reject);
    req.end(body.length ? body : undefined);
  });
}
