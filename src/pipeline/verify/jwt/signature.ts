// The JWS signature check, synchronous, with node:crypto (OpenSSL): a never-seen forged token is
// refused for the cost of one public-key operation, and a good one is not checked a second time by
// jose's WebCrypto path (an async job per verify, plus error objects with stacks: 72-86 µs against
// 26 µs for RS256 here). `true` means the signature is good: the verifier then has jose validate the
// claims (verifier.ts claimsOfVerified). Anything this check does not know (an alg, a key type that
// does not fit the alg the way jose insists, an odd encoding, a throw) is `undefined`, "not
// applicable", and jose's jwtVerify judges the token in full. signature.test.ts holds it to every
// alg with jose-signed tokens and to a bit flipped in each segment.
import { KeyObject, verify, constants, type webcrypto } from 'node:crypto';
import type { VerificationKey } from './key-source.js';

interface AlgSpec {
  /** node:crypto digest name; null for EdDSA (the algorithm hashes internally). */
  digest: string | null;
  /** What the key must be, as node:crypto names it. */
  keyType: 'rsa' | 'ec' | 'ed25519';
  /** WebCrypto algorithm (and hash) a CryptoKey must be bound to (jose's own check, lib/key.js checkCryptoKey). */
  webCryptoName: string;
  webCryptoHash?: string;
  /** RSA padding; for RSA-PSS the salt length is the digest length (RFC 7518 §3.5). */
  rsa?: { padding: number; saltLength?: number };
  /** EC curve, as node:crypto and WebCrypto name it, and the fixed R||S signature length (RFC 7518 §3.4). */
  curve?: { node: string; web: string; signatureBytes: number };
}

const rsa = (bits: 256 | 384 | 512, pss = false): AlgSpec => ({
  digest: `sha${bits}`,
  keyType: 'rsa',
  webCryptoName: pss ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5',
  webCryptoHash: `SHA-${bits}`,
  rsa: pss ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: bits / 8 } : { padding: constants.RSA_PKCS1_PADDING },
});
const ec = (bits: 256 | 384 | 512, node: string, web: string, signatureBytes: number): AlgSpec => ({ digest: `sha${bits}`, keyType: 'ec', webCryptoName: 'ECDSA', curve: { node, web, signatureBytes } });
const eddsa: AlgSpec = { digest: null, keyType: 'ed25519', webCryptoName: 'Ed25519' };

/** The JWS algorithms this check knows (RFC 7518 §3.1, RFC 8037 §3.1, RFC 9864 for "Ed25519"). */
const ALGS = new Map<string, AlgSpec>([
  ['RS256', rsa(256)],
  ['RS384', rsa(384)],
  ['RS512', rsa(512)],
  ['PS256', rsa(256, true)],
  ['PS384', rsa(384, true)],
  ['PS512', rsa(512, true)],
  ['ES256', ec(256, 'prime256v1', 'P-256', 64)],
  ['ES384', ec(384, 'secp384r1', 'P-384', 96)],
  ['ES512', ec(512, 'secp521r1', 'P-521', 132)],
  ['EdDSA', eddsa],
  ['Ed25519', eddsa],
]);

/** jose refuses RSA keys under 2048 bits (lib/key.js checkModulusLength); such a key is left to it. */
const MIN_RSA_BITS = 2048;

/** A verification key as node:crypto wants it, per key object; null: not usable here (jose decides). */
const keyObjects = new WeakMap<object, KeyObject | null>();

function toKeyObject(key: VerificationKey): KeyObject | undefined {
  if (key instanceof KeyObject) return key;
  let ko = keyObjects.get(key);
  if (ko === undefined) {
    try {
      // Works for non-extractable CryptoKeys too (importSPKI / importX509 make those).
      ko = KeyObject.from(key as unknown as webcrypto.CryptoKey);
    } catch {
      ko = null;
    }
    keyObjects.set(key, ko);
  }
  return ko ?? undefined;
}

/**
 * Per key and alg: the KeyObject to verify with, or null when the key does not fit the alg (jose
 * decides). Keys are immutable, so the answer is too; asking fits() every time read the key's
 * details and WebCrypto algorithm afresh on every never-seen token (≈ 25 µs of the first second's
 * 240 µs per never-seen token in a cold-start profile).
 */
const usable = new WeakMap<object, Map<string, KeyObject | null>>();

function usableKeyObject(alg: string, spec: AlgSpec, key: VerificationKey): KeyObject | undefined {
  let byAlg = usable.get(key);
  if (!byAlg) usable.set(key, (byAlg = new Map()));
  let ko = byAlg.get(alg);
  if (ko === undefined) {
    const candidate = toKeyObject(key);
    ko = candidate && fits(spec, key, candidate) ? candidate : null;
    byAlg.set(alg, ko);
  }
  return ko ?? undefined;
}

/** Converts a key for node:crypto and checks it fits `alg` ahead of its first token (start-up warm-up); kept per key. */
export function primeKeyObject(key: VerificationKey, alg: string): void {
  const spec = ALGS.get(alg);
  try {
    if (spec) usableKeyObject(alg, spec, key);
  } catch {
    /* judged again (and left to jose) at the first token */
  }
}

/**
 * Does this key fit this alg the way jose would insist? A CryptoKey is bound to one WebCrypto
 * algorithm (name, hash, curve) and jose refuses it for any other alg; a KeyObject must be a public
 * key of the alg's type and curve. When it does not fit, the caller gets `undefined` and jose
 * refuses with its own error, as before.
 */
function fits(spec: AlgSpec, key: VerificationKey, ko: KeyObject): boolean {
  if (ko.type !== 'public' || ko.asymmetricKeyType !== spec.keyType) return false;
  const details = ko.asymmetricKeyDetails;
  if (spec.keyType === 'rsa' && !((details?.modulusLength ?? 0) >= MIN_RSA_BITS)) return false;
  if (spec.curve && details?.namedCurve !== spec.curve.node) return false;
  if (key instanceof KeyObject) return true;
  const c = key as unknown as webcrypto.CryptoKey;
  const a = c.algorithm as { name?: string; hash?: { name?: string }; namedCurve?: string };
  if (c.type !== 'public' || !c.usages.includes('verify') || a.name !== spec.webCryptoName) return false;
  if (spec.keyType === 'rsa' && a.hash?.name !== spec.webCryptoHash) return false;
  if (spec.curve && a.namedCurve !== spec.curve.web) return false;
  return true;
}

/** Three non-empty base64url segments, nothing else (RFC 7515 §7.1; no padding, no whitespace). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Checks a compact JWS's signature with `key` for `alg`, synchronously.
 *   true      the signature is valid (the caller still validates the claims, with jose)
 *   false     it is not: refuse
 *   undefined not applicable (unknown alg, a key that does not fit the alg, an encoding jose would
 *             judge itself, an error): leave the verdict to jose, never treat as valid
 */
export function verifySignatureSync(alg: string, key: VerificationKey, token: string): boolean | undefined {
  const spec = ALGS.get(alg);
  if (!spec || !COMPACT_JWS.test(token)) return undefined;
  const dot = token.lastIndexOf('.');
  const encodedSignature = token.slice(dot + 1);
  // A length of 1 mod 4 is not base64 at all; jose's decoder throws on it, Buffer would drop the char.
  if (encodedSignature.length % 4 === 1) return undefined;
  try {
    const ko = usableKeyObject(alg, spec, key);
    if (!ko) return undefined;
    const signature = Buffer.from(encodedSignature, 'base64url');
    // ES*: the signature is R||S of a fixed length; anything else is no signature (WebCrypto says false too).
    if (spec.curve && signature.length !== spec.curve.signatureBytes) return false;
    // The JWS Signing Input is the ASCII of "header.payload" as sent (RFC 7515 §5.2 step 8).
    const signingInput = Buffer.from(token.slice(0, dot), 'latin1');
    const options = spec.rsa ? { key: ko, ...spec.rsa } : spec.curve ? { key: ko, dsaEncoding: 'ieee-p1363' as const } : ko;
    return verify(spec.digest, signingInput, options, signature);
  } catch {
    return undefined;
  }
}
