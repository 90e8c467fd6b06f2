// OAuth 1.0a request signing (RFC 5849) with RSA-SHA1, the method Jira's application links use for
// "OAuth with impersonation" (2-legged OAuth). Pure: the caller passes the nonce, the timestamp and
// the key, so the same inputs always give the same Authorization header.
import { sign, type KeyObject } from 'node:crypto';

/**
 * RFC 5849 §3.6: every byte except ALPHA / DIGIT / "-" / "." / "_" / "~" becomes %XX (upper-case hex).
 * Works on bytes, so a value is encoded exactly as it was sent (no charset round trip).
 */
export function oauthEncode(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  let out = '';
  for (const b of bytes) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    out += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Decodes one application/x-www-form-urlencoded component to bytes ("+" is a space, %XX a byte).
 * The input is a latin1 string (how Node hands over request targets and how a body is read here),
 * so each char is one byte as received. A "%" not followed by two hex digits stays literal.
 */
export function formDecode(component: string): Buffer {
  const s = Buffer.from(component.replace(/\+/g, ' '), 'latin1');
  const out: number[] = [];
  const hex = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === 0x25 && i + 2 < s.length && hex(s[i + 1]!) && hex(s[i + 2]!)) {
      out.push(parseInt(String.fromCharCode(s[i + 1]!, s[i + 2]!), 16));
      i += 2;
    } else out.push(c);
  }
  return Buffer.from(out);
}

/** A request parameter as raw bytes (name and value decoded once). */
export interface OAuthParam {
  name: Buffer;
  value: Buffer;
}

/**
 * "a=1&b=&c" -> [{a,1},{b,""},{c,""}]: empty values are kept (RFC 5849 §3.4.1.3.1); empty pairs
 * ("a=1&&b") are skipped, as servlet containers skip them when Jira rebuilds the parameters.
 */
export function parseFormParams(encoded: string): OAuthParam[] {
  return encoded.split('&').filter((pair) => pair !== '').map((pair) => {
    const eq = pair.indexOf('=');
    return eq < 0 ? { name: formDecode(pair), value: Buffer.alloc(0) } : { name: formDecode(pair.slice(0, eq)), value: formDecode(pair.slice(eq + 1)) };
  });
}

export const param = (name: string, value: string): OAuthParam => ({ name: Buffer.from(name, 'utf8'), value: Buffer.from(value, 'utf8') });

/**
 * RFC 5849 §3.4.1.3.2: encode names and values, sort by encoded name then encoded value (byte
 * order; the encoded form is ASCII so string comparison is byte comparison), join "name=value" by "&".
 */
export function normalizeParams(params: readonly OAuthParam[]): string {
  const pairs = params.map((p) => [oauthEncode(p.name), oauthEncode(p.value)] as const);
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/**
 * RFC 5849 §3.4.1.2: scheme and host lower-case, the port only when it is not the scheme's default,
 * the path exactly as sent (already percent-encoded), no query and no fragment.
 *   baseStringUri("HTTP://Example.COM:80", "/r%20v/x") -> "http://example.com/r%20v/x"
 */
export function baseStringUri(origin: string, rawPath: string): string {
  const u = new URL(origin);
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const isDefault = u.port === '' || (scheme === 'http' && u.port === '80') || (scheme === 'https' && u.port === '443');
  const path = rawPath === '' ? '/' : rawPath;
  return `${scheme}://${u.hostname.toLowerCase()}${isDefault ? '' : `:${u.port}`}${path}`;
}

/** RFC 5849 §3.4.1.1: METHOD & encode(base string URI) & encode(normalized parameters). */
export function signatureBaseString(method: string, uri: string, params: readonly OAuthParam[]): string {
  return `${oauthEncode(method.toUpperCase())}&${oauthEncode(uri)}&${oauthEncode(normalizeParams(params))}`;
}

export interface SignInput {
  method: string;
  /** Origin the server believes it was reached at (scheme://host[:port]). */
  origin: string;
  /** Path as sent, without the query. */
  rawPath: string;
  /** Query parameters as sent (already including any xoauth_requestor_id). */
  queryParams: readonly OAuthParam[];
  /** Parameters of an application/x-www-form-urlencoded body (RFC 5849 §3.4.1.3.1), else []. */
  bodyParams: readonly OAuthParam[];
  consumerKey: string;
  privateKey: KeyObject;
  /** Seconds since the epoch. */
  timestamp: number;
  nonce: string;
  /** Include `oauth_token=""` (default true). */
  sendEmptyToken?: boolean;
}

export interface SignedRequest {
  /** The Authorization header value (RFC 5849 §3.5.1). */
  authorization: string;
  /** For tests and debugging only: what was signed. */
  baseString: string;
}

/**
 * Signs a request with RSA-SHA1 (RFC 5849 §3.4.3: RSASSA-PKCS1-v1_5 over SHA-1, base64). Pure apart
 * from running the RSA operation off the event loop.
 * The protocol parameters travel in the Authorization header; an empty oauth_token is sent because
 * Atlassian's OAuth filter recognises a 2-legged (consumer-only) request by an absent-or-empty token
 * and some Jira versions only accept it when the parameter is present (empty parameters are part of
 * the base string per §3.4.1.3.1).
 */
export async function signRequest(input: SignInput): Promise<SignedRequest> {
  const protocol: Array<[string, string]> = [
    ['oauth_consumer_key', input.consumerKey],
    ['oauth_nonce', input.nonce],
    ['oauth_signature_method', 'RSA-SHA1'],
    ['oauth_timestamp', String(input.timestamp)],
    ...(input.sendEmptyToken === false ? [] : [['oauth_token', ''] as [string, string]]),
    ['oauth_version', '1.0'],
  ];
  const all = [...input.queryParams, ...input.bodyParams, ...protocol.map(([n, v]) => param(n, v))];
  const baseString = signatureBaseString(input.method, baseStringUri(input.origin, input.rawPath), all);
  // The callback form runs in libuv's thread pool: an RSA-2048 signature costs ~0.7 ms of CPU, which
  // would otherwise be spent on the event loop for every forwarded request.
  const signature = await new Promise<string>((resolve, reject) =>
    sign('RSA-SHA1', Buffer.from(baseString, 'ascii'), input.privateKey, (err, sig) => (err ? reject(err) : resolve(sig.toString('base64')))),
  );
  const fields = [...protocol, ['oauth_signature', signature] as [string, string]].map(([n, v]) => `${oauthEncode(n)}="${oauthEncode(v)}"`);
  return { authorization: `OAuth ${fields.join(', ')}`, baseString };
}
