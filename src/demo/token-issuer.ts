// A small token issuer for the demo and the tests: OIDC discovery, a JWKS endpoint with key rotation,
// RFC 7662 introspection with client authentication, and switches to make each endpoint slow, down
// or wrong. Tokens are signed with node:crypto directly so tests can also produce any header they
// like (forgeries); nothing here is used by the sidecar itself.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { jwtVerify, importSPKI, importX509 } from 'jose';

export type EndpointMode = 'up' | 'down' | 'hang' | 'garbage' | 'slow';

export interface IssuerKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicJwk: JsonWebKey;
  publicKeyPem: string;
}

export interface SignOptions {
  /** Header fields merged over {alg: RS256, typ: JWT, kid}. */
  header?: Record<string, unknown>;
  /** Sign with this key instead of the current one (e.g. a key that is not published). */
  key?: IssuerKey;
  /** Lifetime in seconds (default 3600); ignored when claims has exp or noExp is set. */
  expiresInSec?: number;
  noExp?: boolean;
}

export interface OpaqueTokenInfo {
  active: boolean;
  [claim: string]: unknown;
}

export interface IntrospectionRequestRecord {
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt' | 'none';
  clientId?: string;
  assertionHeader?: Record<string, unknown>;
  ok: boolean;
}

export interface TokenIssuer {
  /** The issuer identifier (iss) and base URL. */
  url: string;
  jwksUrl: string;
  discoveryUrl: string;
  introspectionUrl: string;
  /** The key new tokens are signed with. */
  current: IssuerKey;
  /** Keys published in the JWKS. */
  published: IssuerKey[];
  /** Sign claims (iss, iat, exp filled in unless given). */
  sign(claims: Record<string, unknown>, opts?: SignOptions): string;
  /** New signing key; the old one stays published unless dropOld. Returns the new key. */
  rotate(opts?: { dropOld?: boolean }): IssuerKey;
  /** A key that is never published (for "unknown kid" and "wrong signature" tokens). */
  newKey(kid?: string): IssuerKey;
  jwksMode: EndpointMode;
  introspectionMode: EndpointMode;
  /** Delay of the 'slow' mode. */
  slowMs: number;
  jwksFetches: number;
  introspections: IntrospectionRequestRecord[];
  /** An opaque token whose introspection answer is `info` (merged over {active: true}). */
  issueOpaque(info: Partial<OpaqueTokenInfo>): string;
  revoke(token: string): void;
  /** Clients allowed to call introspection. */
  clients: Map<string, { secret?: string; certificatePem?: string; publicKeyPem?: string }>;
  close(): Promise<void>;
}

export function makeKey(kid = randomBytes(6).toString('hex')): IssuerKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicKey, publicJwk, publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString() };
}

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** A compact JWS with exactly this header and payload, RSA-signed with `key` (any header, any claims); RS384/RS512 headers pick their hash. */
export function signRaw(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: KeyObject): string {
  const input = `${b64u(header)}.${b64u(payload)}`;
  const hash = header.alg === 'RS512' ? 'sha512' : header.alg === 'RS384' ? 'sha384' : 'sha256';
  return `${input}.${cryptoSign(hash, Buffer.from(input), key).toString('base64url')}`;
}

export async function startTokenIssuer(opts: { port?: number; host?: string } = {}): Promise<TokenIssuer> {
  const opaque = new Map<string, OpaqueTokenInfo>();
  let base = '';
  const issuer: TokenIssuer = {
    url: '',
    jwksUrl: '',
    discoveryUrl: '',
    introspectionUrl: '',
    current: makeKey(),
    published: [],
    sign(claims, o = {}) {
      const key = o.key ?? issuer.current;
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = { iss: base, iat: now, ...claims };
      if (!o.noExp && payload.exp === undefined) payload.exp = now + (o.expiresInSec ?? 3600);
      if (o.noExp) delete payload.exp;
      return signRaw({ alg: 'RS256', typ: 'JWT', kid: key.kid, ...o.header }, payload, key.privateKey);
    },
    rotate(o = {}) {
      const k = makeKey();
      issuer.published = o.dropOld ? [k] : [k, ...issuer.published];
      issuer.current = k;
      return k;
    },
    newKey: (kid) => makeKey(kid),
    jwksMode: 'up',
    introspectionMode: 'up',
    slowMs: 10_000,
    jwksFetches: 0,
    introspections: [],
    issueOpaque(info) {
      const t = randomBytes(24).toString('hex');
      opaque.set(t, { active: true, ...info });
      return t;
    },
    revoke(t) {
      const i = opaque.get(t);
      if (i) i.active = false;
    },
    clients: new Map(),
    close: async () => undefined,
  };
  issuer.published = [issuer.current];

  const json = (res: ServerResponse, status: number, body: unknown) => {
    const s = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), 'cache-control': 'no-store' });
    res.end(s);
  };

  /** Apply an endpoint mode; returns true when the request was handled (down/hang/garbage). */
  const misbehave = (mode: EndpointMode, res: ServerResponse, then: () => void): boolean => {
    if (mode === 'down') {
      json(res, 503, { error: 'temporarily_unavailable' });
      return true;
    }
    if (mode === 'hang') return true; // never answers; the client's timeout must fire
    if (mode === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"keys": [ this is not json');
      return true;
    }
    if (mode === 'slow') {
      const t = setTimeout(then, issuer.slowMs);
      res.on('close', () => clearTimeout(t));
      return true;
    }
    return false;
  };

  async function clientOf(req: IncomingMessage, form: URLSearchParams): Promise<IntrospectionRequestRecord> {
    const auth = req.headers.authorization ?? '';
    if (/^basic /i.test(auth)) {
      const [id = '', secret = ''] = Buffer.from(auth.slice(6), 'base64').toString().split(':').map((s) => decodeURIComponent(s.replace(/\+/g, ' ')));
      const c = issuer.clients.get(id);
      return { clientAuth: 'client_secret_basic', clientId: id, ok: !!c?.secret && c.secret === secret };
    }
    const id = form.get('client_id') ?? '';
    if (form.get('client_assertion')) {
      const assertion = form.get('client_assertion')!;
      const header = JSON.parse(Buffer.from(assertion.split('.')[0] ?? '', 'base64url').toString() || '{}') as Record<string, unknown>;
      const c = issuer.clients.get(id);
      let ok = false;
      if (c && (c.certificatePem || c.publicKeyPem) && form.get('client_assertion_type') === 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
        try {
          const alg = String(header.alg);
          const key = c.certificatePem ? await importX509(c.certificatePem, alg) : await importSPKI(c.publicKeyPem!, alg);
          const { payload } = await jwtVerify(assertion, key, { issuer: id, subject: id, audience: issuer.introspectionUrl });
          ok = typeof payload.jti === 'string' && typeof payload.exp === 'number';
        } catch {
          ok = false;
        }
      }
      return { clientAuth: 'private_key_jwt', clientId: id, assertionHeader: header, ok };
    }
    if (form.get('client_secret') !== null) {
      const c = issuer.clients.get(id);
      return { clientAuth: 'client_secret_post', clientId: id, ok: !!c?.secret && c.secret === form.get('client_secret') };
    }
    return { clientAuth: 'none', ok: false };
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', base);
      if (u.pathname === '/.well-known/openid-configuration') {
        return json(res, 200, {
          issuer: base,
          jwks_uri: issuer.jwksUrl,
          introspection_endpoint: issuer.introspectionUrl,
          id_token_signing_alg_values_supported: ['RS256'],
          introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
        });
      }
      if (u.pathname === '/jwks') {
        issuer.jwksFetches++;
        const send = () => json(res, 200, { keys: issuer.published.map((k) => k.publicJwk) });
        if (misbehave(issuer.jwksMode, res, send)) return;
        return send();
      }
      if (u.pathname === '/introspect' && req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        const answer = async () => {
          const client = await clientOf(req, form);
          issuer.introspections.push(client);
          if (!client.ok) return json(res, 401, { error: 'invalid_client' });
          const info = opaque.get(form.get('token') ?? '');
          if (!info || !info.active) return json(res, 200, { active: false });
          return json(res, 200, { token_type: 'Bearer', iss: base, ...info });
        };
        if (misbehave(issuer.introspectionMode, res, () => void answer())) return;
        return void answer();
      }
      json(res, 404, { error: 'not_found' });
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', r));
  const addr = server.address() as AddressInfo;
  base = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;
  issuer.url = base;
  issuer.jwksUrl = `${base}/jwks`;
  issuer.discoveryUrl = `${base}/.well-known/openid-configuration`;
  issuer.introspectionUrl = `${base}/introspect`;
  issuer.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return issuer;
}

/** The public key of an IssuerKey as PEM (for publicKeyPem configs). */
export const publicPemOf = (k: IssuerKey) => createPublicKey(k.privateKey).export({ format: 'pem', type: 'spki' }).toString();
