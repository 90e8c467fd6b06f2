// A compact JWT's (unverified) protected header and claims, decoded once: the verifier needs both
// to choose the issuer and the key before any signature is checked. jose's decodeProtectedHeader +
// decodeJwt split and base64url-decode the same token twice in JavaScript; this does it once with
// Buffer. A token outside the plain shape (padding, whitespace, five parts, an empty part) goes
// through jose's decoders instead, so exactly the tokens jose could decode are decodable here.
import { decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';

export interface DecodedJwt {
  header: ProtectedHeaderParameters;
  /** Claims, NOT verified: only for choosing the issuer. */
  payload: JWTPayload;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
// Same as jose's strictDecoder: invalid UTF-8 is an error, not U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A JSON object (jose's isObject: not an array, not null; JSON.parse only makes plain objects). */
const isJsonObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw new Error(`the ${what} is not base64url-encoded JSON`);
  }
  if (!isJsonObject(parsed)) throw new Error(`the ${what} is not a JSON object`);
  return parsed;
}

/** Base64url without padding, and not of a length (1 mod 4) that no decoder accepts. */
const isPlainSegment = (s: string | undefined): s is string => s !== undefined && s.length % 4 !== 1 && BASE64URL.test(s);

/**
 * "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcCJ9.c2ln" -> { header: {alg: 'RS256'}, payload: {iss: 'https://idp'} }.
 * Throws an Error (whose message is safe to log: no token content) when the token cannot be decoded.
 */
export function decodeCompactJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length === 3 && isPlainSegment(parts[0]) && isPlainSegment(parts[1])) {
    return { header: decodeSegment(parts[0], 'protected header') as ProtectedHeaderParameters, payload: decodeSegment(parts[1], 'payload') as JWTPayload };
  }
  return { header: decodeProtectedHeader(token), payload: decodeJwt(token) };
}
