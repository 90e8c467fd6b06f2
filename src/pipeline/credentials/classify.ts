// What credential did the client present? A pure function of the request facts and the policy.
// It only recognises shapes (no signature, no lookup); verify/ proves what is marked 'verify'.
// Kinds that are not ours (PAT, OAuth 1.0a, Jira session) are recognised so they can be passed to
// Jira unchanged or refused, never guessed at: anything ambiguous is refused as malformed.
import { perPolicy, type Policy } from '../../config/policy.js';
import type { Config } from '../../config/schema.js';
import type { ErrorCode } from '../../errors.js';
import type { Credential, CredentialKind, RequestFacts } from '../state.js';
import { hasValidChecksum, looksLikeApiToken } from '../../api-tokens/format.js';

export type Classification =
  | { ok: true; credential: Credential; rule: string; detail: string }
  | {
      ok: false;
      code: ErrorCode;
      rule: string;
      detail: string;
      /** The kind, when it was recognised before being refused (audit). */
      kind?: CredentialKind;
      /**
       * Set when the refusal is the `credentials` setting's "deny" (a rule, which may be in report
       * mode): the credential as it would be treated without that rule. Never set for a malformed
       * or forged credential.
       */
      denied?: Credential;
    };

/** Longest bearer value considered at all (Entra tokens with many groups reach ~8 KB). */
export const MAX_TOKEN_LENGTH = 16 * 1024;

// RFC 7235 §2.1: auth-scheme is a token; RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
const SCHEME = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?:[ ]+(.*))?$/s;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const B64URL_SEG = /^[A-Za-z0-9_-]*$/;
/**
 * Three base64url segments (RFC 7515 §7.1 compact serialization), header and payload captured. One
 * scan of the token instead of a split and a test per segment; a match is also a b64token (every
 * character is one), so a JWT is scanned once in all (~1 µs less per request than three passes).
 */
const JWS_SEGMENTS = /^([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]*)\.[A-Za-z0-9_-]*$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Query parameters that carry a token (RFC 6750 §2.3 access_token; Atlassian Connect's jwt). Never accepted. */
const QUERY_TOKEN_PARAMS = new Set(['access_token', 'jwt']);
/** Jira's legacy query-string Basic authentication (os_authType=basic). */
const QUERY_BASIC_PARAMS = new Set(['os_username', 'os_password']);
/** Jira's own browser session: Tomcat's session id and Seraph's remember-me cookie. */
const SESSION_COOKIES = new Set(['jsessionid', 'seraph.rememberme.cookie']);

interface KindsView {
  actions: Config['credentials'];
  apiTokens: Config['apiTokens'];
  introspection: boolean;
}

const kindsOf = perPolicy<KindsView>((c) => ({ actions: c.credentials, apiTokens: c.apiTokens, introspection: c.introspection.enabled }));

const refuse = (code: ErrorCode, rule: string, detail: string, kind?: CredentialKind): Classification =>
  kind === undefined ? { ok: false, code, rule, detail } : { ok: false, code, rule, detail, kind };

/** What a kind's credential gets when its "deny" is absent: ours are verified, the others go to Jira as presented. */
const withoutDeny = (kind: CredentialKind): Credential['action'] => (kind === 'jwt' || kind === 'api-token' ? 'verify' : 'passthrough');

function decide(kind: CredentialKind, action: Credential['action'], rule: string, detail: string, secret?: string, scheme?: string, principal?: string): Classification {
  const credential: Credential = { kind, action, rule };
  if (secret !== undefined) credential.secret = secret;
  if (scheme !== undefined) credential.scheme = scheme;
  if (principal !== undefined) credential.principal = principal;
  if (action === 'deny') {
    return { ok: false, code: 'credential_kind_denied', rule, detail: `${detail} (credentials.${rule}: deny)`, kind, denied: { ...credential, action: withoutDeny(kind) } };
  }
  return { ok: true, credential, rule, detail };
}

/**
 * A credential recorded in an audit row (kind and the rule that classified it), classified again
 * under another policy (replay): the same settings classifyBearer and decide read. Undefined when
 * the recording does not say enough (no kind, a rule that is not a `credentials` setting).
 */
export function reclassifyRecorded(kind: CredentialKind, rule: string | undefined, policy: Policy, scheme?: string): Classification | undefined {
  const kinds = kindsOf(policy);
  if (kind === 'api-token' && !kinds.apiTokens.enabled) return refuse('credential_kind_denied', 'apiToken', 'API tokens are disabled (apiTokens.enabled: false)', 'api-token');
  if (kind === 'api-token' && scheme === 'basic' && kinds.actions.apiToken === 'passthrough') return basicTokenPassthrough();
  // An opaque bearer token is introspected when introspection is on, else it is Jira's OAuth 2.0 token.
  const r = kind === 'opaque-bearer' ? (kinds.introspection ? 'introspection' : 'jiraOAuth2') : rule;
  if (r === 'introspection') return decide(kind, 'verify', r, 'opaque Bearer token (introspection)');
  const action = r === undefined || r === 'mode' ? undefined : (kinds.actions as unknown as Record<string, Credential['action'] | undefined>)[r];
  return action === undefined ? undefined : decide(kind, action, r!, `recorded ${kind}`);
}

/** A name to show for who a credential claims to be (bounded, no control characters); never a secret. */
const principalName = (s: string): string | undefined => {
  const t = s.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 128);
  return t || undefined;
};

/** Every value of a header in rawHeaders (node collapses duplicate Authorization headers, keeping only the first). */
function rawValues(facts: RequestFacts, name: string): string[] {
  const out: string[] = [];
  const raw = facts.rawHeaders;
  if (raw.length === 0) {
    const v = facts.headers[name];
    if (Array.isArray(v)) return v;
    return v === undefined ? [] : [v];
  }
  // Length first: most names cannot match, and toLowerCase may allocate.
  for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) out.push(raw[i + 1]!);
  return out;
}

/** Query parameter names, lower-cased and percent-decoded ("access%5Ftoken" is access_token to Tomcat). */
const NO_NAMES: ReadonlySet<string> = new Set();
function queryNames(rawTarget: string): ReadonlySet<string> {
  const q = rawTarget.indexOf('?');
  if (q < 0) return NO_NAMES;
  const names = new Set<string>();
  const query = rawTarget.slice(q + 1).split('#')[0]!;
  for (const part of query.split(/[&;]/)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawName = (eq < 0 ? part : part.slice(0, eq)).replace(/\+/g, ' ');
    let name = rawName;
    try {
      name = decodeURIComponent(rawName);
    } catch {
      /* an undecodable name is kept raw: it cannot spell a token parameter either way */
    }
    names.add(name.trim().toLowerCase());
  }
  return names;
}

/** The os_username value of a query string (a name, not a secret), if any. */
function osUsername(rawTarget: string): string | undefined {
  const q = rawTarget.indexOf('?');
  for (const part of rawTarget.slice(q + 1).split('#')[0]!.split(/[&;]/)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    try {
      if (decodeURIComponent(part.slice(0, eq).replace(/\+/g, ' ')).trim().toLowerCase() !== 'os_username') continue;
      return principalName(decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' ')));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function cookieNames(facts: RequestFacts): Set<string> {
  const names = new Set<string>();
  for (const header of rawValues(facts, 'cookie')) {
    for (const c of header.split(';')) {
      const eq = c.indexOf('=');
      const n = (eq < 0 ? c : c.slice(0, eq)).trim().toLowerCase();
      if (n) names.add(n);
    }
  }
  return names;
}

function decodeB64url(seg: string): string | undefined {
  if (!seg || !B64URL_SEG.test(seg) || seg.length % 4 === 1) return undefined;
  return Buffer.from(seg, 'base64url').toString('utf8');
}

/** 'jws' (three base64url segments, header a JSON object with a string alg), 'jose-like' (looks meant as one, is not), or 'no'. */
export function jwsShape(token: string, segments = JWS_SEGMENTS.exec(token)): 'jws' | 'jose-like' | 'no' {
  const meant = token.startsWith('eyJ');
  if (!segments) return meant && token.includes('.') ? 'jose-like' : 'no';
  if (isJwsHeader(segments[1]!) && segments[2]!.length > 0) return 'jws';
  return meant ? 'jose-like' : 'no';
}

/**
 * Recently seen header segments -> "decodes to a JSON object with a string alg". An issuer's tokens
 * share one header (alg, kid, typ), so it is decoded and parsed once instead of on every request.
 * Headers are not secrets; the memo is bounded (cleared when full, long segments never kept).
 */
const headerShapes = new Map<string, boolean>();
function isJwsHeader(seg: string): boolean {
  let ok = headerShapes.get(seg);
  if (ok !== undefined) return ok;
  ok = false;
  const header = decodeB64url(seg);
  if (header !== undefined) {
    try {
      const h = JSON.parse(header) as unknown;
      ok = !!h && typeof h === 'object' && !Array.isArray(h) && typeof (h as { alg?: unknown }).alg === 'string';
    } catch {
      /* not JSON */
    }
  }
  if (seg.length <= 1024) {
    if (headerShapes.size >= 256) headerShapes.clear();
    headerShapes.set(seg, ok);
  }
  return ok;
}

/**
 * Jira Data Center personal access token (Jira 8.14+): base64 of "<numeric token id>:<random bytes>".
 * Real tokens are 44 characters: a 12-digit id, ":" and 20 random bytes (33 bytes). Recognised by
 * that structure (canonical base64 that decodes to digits + ":" + at least 16 bytes), not guessed.
 */
export function looksLikeJiraPat(token: string): boolean {
  if (token.length < 24 || token.length > 128 || !BASE64.test(token) || token.length % 4 !== 0) return false;
  const bytes = Buffer.from(token, 'base64');
  if (bytes.toString('base64') !== token) return false; // not canonical base64
  const colon = bytes.indexOf(0x3a);
  if (colon < 6 || colon > 20) return false;
  for (let i = 0; i < colon; i++) if (bytes[i]! < 0x30 || bytes[i]! > 0x39) return false;
  return bytes.length - colon - 1 >= 16;
}

function classifyBearer(value: string, kinds: KindsView): Classification {
  if (value.length === 0) return refuse('credential_malformed', 'bearer', 'empty Bearer value');
  if (value.length > MAX_TOKEN_LENGTH) return refuse('credential_malformed', 'bearer', `Bearer value longer than ${MAX_TOKEN_LENGTH} characters`);
  const segments = JWS_SEGMENTS.exec(value);
  if (!segments && !B64TOKEN.test(value)) return refuse('credential_malformed', 'bearer', 'Bearer value is not a b64token (RFC 6750 §2.1)');
  const { actions, apiTokens } = kinds;
  if (value.startsWith(apiTokens.prefix)) {
    // Our prefix: it is ours or it is nothing. A wrong checksum is refused offline, without a lookup.
    if (!looksLikeApiToken(value, apiTokens.prefix) || !hasValidChecksum(value, apiTokens.prefix)) {
      return refuse('token_invalid', 'apiToken', 'API token prefix with a wrong length or checksum', 'api-token');
    }
    if (!apiTokens.enabled) return refuse('credential_kind_denied', 'apiToken', 'API tokens are disabled (apiTokens.enabled: false)', 'api-token');
    return decide('api-token', actions.apiToken, 'apiToken', 'sidecar API token', value, 'bearer');
  }
  const shape = jwsShape(value, segments);
  if (shape === 'jws') return decide('jwt', actions.jwt, 'jwt', 'compact JWS', value, 'bearer');
  if (shape === 'jose-like') return refuse('credential_malformed', 'jwt', 'looks like a JOSE object but is not a compact JWS (JWE and unsecured forms are not accepted)', 'jwt');
  if (looksLikeJiraPat(value)) return decide('jira-pat', actions.jiraPat, 'jiraPat', 'Jira personal access token', value, 'bearer', patPrincipal(value));
  if (kinds.introspection) return decide('opaque-bearer', 'verify', 'introspection', 'opaque Bearer token (introspection)', value, 'bearer');
  // Contract §3: without introspection, an opaque bearer token is Jira's own OAuth 2.0 access token.
  return decide('opaque-bearer', actions.jiraOAuth2, 'jiraOAuth2', 'opaque Bearer token (Jira OAuth 2.0)', value, 'bearer');
}

/** "PAT <id>": the numeric token id a Jira PAT starts with (the part before ":"; the rest is the secret). */
function patPrincipal(token: string): string {
  const bytes = Buffer.from(token, 'base64');
  return `PAT ${bytes.subarray(0, bytes.indexOf(0x3a)).toString('latin1')}`;
}

function classifyBasic(value: string, kinds: KindsView): Classification {
  if (!value || !BASE64.test(value) || value.length % 4 !== 0) return refuse('credential_malformed', 'basic', 'Basic value is not base64 (RFC 7617)');
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || /[\x00-\x1f\x7f]/.test(decoded)) return refuse('credential_malformed', 'basic', 'Basic value is not "user:password"');
  const password = decoded.slice(colon + 1);
  if (password.startsWith(kinds.apiTokens.prefix)) return classifyBasicApiToken(decoded.slice(0, colon), password, kinds);
  return decide('basic', kinds.actions.basic, 'basic', 'Basic authentication', value, 'basic', principalName(decoded.slice(0, colon)));
}

/**
 * One of our API tokens as the password of Basic (Zapier and other clients that only speak Basic):
 * it is ours or nothing, whatever credentials.basic says, and never reaches Jira as a password.
 * A good one is kind 'api-token' with the token as its secret, scheme 'basic' and the user part as
 * its principal (the verifier accepts it only when that is the token's owner).
 *   Basic base64("alice:jas_<valid>")     -> api-token (credentials.apiToken), principal alice
 *   Basic base64("alice:jas_<bad crc>")   -> token_invalid
 */
/** A token sent as a Basic password with credentials.apiToken passthrough: passing it on would hand it to Jira as a password. */
const basicTokenPassthrough = (): Classification =>
  refuse('credential_kind_denied', 'apiToken', 'an API token as a Basic password needs credentials.apiToken: verify', 'api-token');

function classifyBasicApiToken(user: string, token: string, kinds: KindsView): Classification {
  const { actions, apiTokens } = kinds;
  if (!hasValidChecksum(token, apiTokens.prefix)) return refuse('token_invalid', 'apiToken', 'Basic password with the API token prefix and a wrong length or checksum', 'api-token');
  if (!apiTokens.enabled) return refuse('credential_kind_denied', 'apiToken', 'API tokens are disabled (apiTokens.enabled: false)', 'api-token');
  if (actions.apiToken === 'passthrough') return basicTokenPassthrough();
  // The user name is compared with the owner as sent: one too long to be shown whole is refused here.
  if (principalName(user) !== user) return refuse('token_invalid', 'api-token:basic-user', 'Basic user name longer than 128 characters', 'api-token');
  return decide('api-token', actions.apiToken, 'apiToken', 'sidecar API token as a Basic password', token, 'basic', user);
}

/** Does any os_password value of the query start with our API token prefix (percent- and "+"-decoded, as Tomcat reads it)? */
function apiTokenInOsPassword(rawTarget: string, prefix: string): boolean {
  const q = rawTarget.indexOf('?');
  for (const part of rawTarget.slice(q + 1).split('#')[0]!.split(/[&;]/)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    let name = part.slice(0, eq).replace(/\+/g, ' ');
    let value = part.slice(eq + 1).replace(/\+/g, ' ');
    try {
      name = decodeURIComponent(name);
    } catch {
      /* kept raw */
    }
    if (name.trim().toLowerCase() !== 'os_password') continue;
    try {
      value = decodeURIComponent(value);
    } catch {
      /* kept raw */
    }
    if (value.trim().startsWith(prefix)) return true;
  }
  return false;
}

// RFC 5849 §3.5.1: OAuth auth-params, comma-separated key="value"; oauth_consumer_key is required.
const OAUTH_PARAM = /^\s*([A-Za-z0-9_]+)\s*=\s*"([^"]*)"\s*$/;
function classifyOAuth1(value: string, kinds: KindsView): Classification {
  const params = new Map<string, string>();
  for (const part of value.split(',')) {
    const m = OAUTH_PARAM.exec(part);
    if (!m) return refuse('credential_malformed', 'oauth1', 'OAuth parameters are not key="value" pairs (RFC 5849 §3.5.1)');
    if (params.has(m[1]!)) return refuse('credential_malformed', 'oauth1', `OAuth parameter ${m[1]} repeated`);
    params.set(m[1]!, m[2]!);
  }
  if (!params.has('oauth_consumer_key') || !params.has('oauth_signature')) return refuse('credential_malformed', 'oauth1', 'OAuth header without oauth_consumer_key / oauth_signature');
  // The consumer key names the application link (public, like a client id); the signature is not kept.
  let consumer = params.get('oauth_consumer_key')!;
  try {
    consumer = decodeURIComponent(consumer);
  } catch {
    /* shown as sent */
  }
  return decide('oauth1', kinds.actions.oauth1, 'oauth1', 'OAuth 1.0a (application link)', undefined, 'oauth', principalName(`consumer ${consumer}`));
}

/**
 * Classifies the credential of a guarded request.
 *   Authorization: Bearer eyJ...       -> jwt
 *   Authorization: bearer jas_...      -> api-token (scheme names are case-insensitive, RFC 7235 §2.1)
 *   Authorization: Basic b64(u:jas_...) -> api-token (our token as the Basic password; u must be its owner)
 *   two Authorization headers          -> refused credential_malformed
 *   /rest/x?access_token=...           -> refused (tokens never come from the query string)
 *   /rest/x?os_password=jas_...        -> refused credential_kind_denied (the same rule)
 */
export function classifyCredential(facts: RequestFacts, policy: Policy): Classification {
  const kinds = kindsOf(policy);
  const query = queryNames(facts.rawTarget);
  for (const p of QUERY_TOKEN_PARAMS) {
    if (query.has(p)) return refuse('credential_kind_denied', 'query-token', `token in the query string (${p}); send it in the Authorization header`);
  }
  let hasQueryBasic = false;
  for (const p of QUERY_BASIC_PARAMS) hasQueryBasic ||= query.has(p);
  const auths = rawValues(facts, 'authorization');
  if (auths.length > 1) return refuse('credential_malformed', 'authorization', `${auths.length} Authorization headers`);
  if (auths.length === 1) {
    if (hasQueryBasic) return refuse('credential_malformed', 'authorization', 'Authorization header and os_username/os_password together');
    const header = auths[0]!.trim();
    const m = SCHEME.exec(header);
    if (!m) return refuse('credential_malformed', 'authorization', 'Authorization header without a valid scheme');
    const scheme = m[1]!.toLowerCase();
    const value = (m[2] ?? '').trim();
    switch (scheme) {
      case 'bearer':
        return classifyBearer(value, kinds);
      case 'basic':
        return classifyBasic(value, kinds);
      case 'oauth':
        return classifyOAuth1(value, kinds);
      default:
        return refuse('credential_kind_denied', 'authorization', `unsupported Authorization scheme "${scheme.slice(0, 32)}"`);
    }
  }
  if (hasQueryBasic) {
    // Tokens never come from the query string: one of ours as os_password is refused, never handed to Jira.
    if (apiTokenInOsPassword(facts.rawTarget, kinds.apiTokens.prefix)) {
      return refuse('credential_kind_denied', 'query-token', 'API token as os_password in the query string; send it in the Authorization header (Bearer, or as the Basic password)', 'api-token');
    }
    return decide('basic', kinds.actions.basic, 'basic', 'os_username/os_password in the query string', undefined, undefined, osUsername(facts.rawTarget));
  }
  const cookies = cookieNames(facts);
  for (const c of SESSION_COOKIES) if (cookies.has(c)) return decide('session', kinds.actions.session, 'session', 'Jira session cookie');
  return decide('anonymous', kinds.actions.anonymous, 'anonymous', 'no credential');
}
