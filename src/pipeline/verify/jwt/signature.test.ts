import { generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, importSPKI, importX509, type CryptoKey } from 'jose';
import { describe, expect, it } from 'vitest';
import { selfSignedCert } from '../../../../test/helpers/issuer.js';
import type { VerificationKey } from './key-source.js';
import { verifySignatureSync } from './signature.js';

const sign = (alg: string, key: KeyObject | CryptoKey, claims: Record<string, unknown> = {}) =>
  new SignJWT({ iss: 'https://idp', sub: 'alice', ...claims }).setProtectedHeader({ alg, kid: 'k1' }).sign(key);

/** RS256 by hand, for a key jose will not sign with (under 2048 bits). */
function signRs256ByHand(key: KeyObject): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'RS256' })}.${b64({ iss: 'https://idp', sub: 'alice' })}`;
  return `${input}.${nodeSign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

/** One bit flipped in the decoded bytes of segment `i` (0 header, 1 payload, 2 signature). */
function flipBit(token: string, i: 0 | 1 | 2): string {
  const parts = token.split('.');
  const bytes = Buffer.from(parts[i]!, 'base64url');
  bytes[Math.floor(bytes.length / 2)]! ^= 0x04;
  parts[i] = bytes.toString('base64url');
  return parts.join('.');
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaSmall = generateKeyPairSync('rsa', { modulusLength: 1024 });
const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const p521 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
const ed = generateKeyPairSync('ed25519');
const pem = (k: KeyObject) => k.export({ format: 'pem', type: 'spki' }).toString();

/** Each alg with the key pair it signs with. */
const ALGS: Array<[alg: string, pair: { publicKey: KeyObject; privateKey: KeyObject }]> = [
  ['RS256', rsa],
  ['RS384', rsa],
  ['RS512', rsa],
  ['PS256', rsa],
  ['PS384', rsa],
  ['PS512', rsa],
  ['ES256', p256],
  ['ES384', p384],
  ['ES512', p521],
  ['EdDSA', ed],
  ['Ed25519', ed],
];

describe('verifySignatureSync: every supported alg, KeyObject and the CryptoKey jose imports', () => {
  for (const [alg, pair] of ALGS) {
    it(alg, async () => {
      const token = await sign(alg, pair.privateKey);
      // The forms key sources hand out: a KeyObject, jose's importSPKI (non-extractable CryptoKey), a JWKS entry.
      const spki = (await importSPKI(pem(pair.publicKey), alg)) as VerificationKey;
      const jwks = createLocalJWKSet({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] });
      const fromJwks = (await jwks({ alg, kid: 'k1' }, { payload: '', signature: '' })) as VerificationKey;
      for (const key of [pair.publicKey as VerificationKey, spki, fromJwks]) {
        expect(verifySignatureSync(alg, key, token)).toBe(true);
        expect(verifySignatureSync(alg, key, flipBit(token, 2))).toBe(false);
        expect(verifySignatureSync(alg, key, flipBit(token, 1))).toBe(false);
        expect(verifySignatureSync(alg, key, flipBit(token, 0))).toBe(false);
      }
    });
  }

  it('a CryptoKey from an X.509 certificate (importX509)', async () => {
    const cert = selfSignedCert(rsa.privateKey, 'idp-signing');
    const key = (await importX509(cert, 'RS256')) as VerificationKey;
    const token = await sign('RS256', rsa.privateKey);
    expect(verifySignatureSync('RS256', key, token)).toBe(true);
    expect(verifySignatureSync('RS256', key, flipBit(token, 2))).toBe(false);
  });

  it('a signature made by another key is false', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(verifySignatureSync('RS256', rsa.publicKey, await sign('RS256', other.privateKey))).toBe(false);
  });

  it('a random 256-byte signature (a forgery) is false', async () => {
    const token = await sign('RS256', rsa.privateKey);
    const forged = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.alloc(256, 7).toString('base64url')}`;
    expect(verifySignatureSync('RS256', rsa.publicKey, forged)).toBe(false);
  });
});

describe('verifySignatureSync: ES signatures are R||S of a fixed length', () => {
  const cases: Array<[alg: string, pair: { publicKey: KeyObject; privateKey: KeyObject }, bytes: number]> = [
    ['ES256', p256, 64],
    ['ES384', p384, 96],
    ['ES512', p521, 132],
  ];
  for (const [alg, pair, bytes] of cases) {
    it(`${alg}: ${bytes} bytes; one more, one less or DER is false`, async () => {
      const token = await sign(alg, pair.privateKey);
      const input = token.slice(0, token.lastIndexOf('.'));
      const sig = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
      expect(sig.length).toBe(bytes);
      expect(verifySignatureSync(alg, pair.publicKey, `${input}.${Buffer.concat([sig, Buffer.of(0)]).toString('base64url')}`)).toBe(false);
      expect(verifySignatureSync(alg, pair.publicKey, `${input}.${sig.subarray(1).toString('base64url')}`)).toBe(false);
      // A DER signature over the same input, as node:crypto makes by default: JWS does not accept it (RFC 7518 §3.4).
      const der = nodeSign(`sha${alg.slice(2)}`, Buffer.from(input), pair.privateKey);
      expect(verifySignatureSync(alg, pair.publicKey, `${input}.${der.toString('base64url')}`)).toBe(false);
    });
  }
});

describe('verifySignatureSync: never true for what it does not know (undefined leaves it to jose)', () => {
  const rows: Array<[name: string, alg: string, key: () => Promise<VerificationKey> | VerificationKey, signer: KeyObject, signAlg: string | 'by hand']> = [
    ['RSA key, ES256 header', 'ES256', () => rsa.publicKey, rsa.privateKey, 'RS256'],
    ['EC key, RS256 header', 'RS256', () => p256.publicKey, p256.privateKey, 'ES256'],
    ['P-256 key, ES384 header', 'ES384', () => p256.publicKey, p256.privateKey, 'ES256'],
    ['Ed25519 key, RS256 header', 'RS256', () => ed.publicKey, ed.privateKey, 'EdDSA'],
    ['RSA key imported for RS256, PS256 header', 'PS256', async () => (await importSPKI(pem(rsa.publicKey), 'RS256')) as VerificationKey, rsa.privateKey, 'PS256'],
    ['RSA key imported for RS256, RS512 header', 'RS512', async () => (await importSPKI(pem(rsa.publicKey), 'RS256')) as VerificationKey, rsa.privateKey, 'RS512'],
    ['RSA under 2048 bits (jose refuses it itself)', 'RS256', () => rsaSmall.publicKey, rsaSmall.privateKey, 'by hand'],
    ['a private key', 'RS256', () => rsa.privateKey, rsa.privateKey, 'RS256'],
    ['HS256', 'HS256', () => rsa.publicKey, rsa.privateKey, 'RS256'],
    ['none', 'none', () => rsa.publicKey, rsa.privateKey, 'RS256'],
    ['an alg it does not know', 'ML-DSA-44', () => rsa.publicKey, rsa.privateKey, 'RS256'],
    ['a name from the prototype', 'constructor', () => rsa.publicKey, rsa.privateKey, 'RS256'],
    ['not a key at all', 'RS256', () => ({}) as VerificationKey, rsa.privateKey, 'RS256'],
  ];
  for (const [name, alg, key, signer, signAlg] of rows) {
    it(name, async () => {
      const token = signAlg === 'by hand' ? signRs256ByHand(signer) : await sign(signAlg, signer);
      const k = await key();
      expect(verifySignatureSync(alg, k, token)).toBeUndefined();
      expect(verifySignatureSync(alg, k, flipBit(token, 2))).toBeUndefined();
    });
  }

  it('encodings jose judges itself: padding, whitespace, a stray character, four parts, length 1 mod 4', async () => {
    const token = await sign('RS256', rsa.privateKey);
    const [h, p, s] = token.split('.') as [string, string, string];
    for (const odd of [`${h}.${p}.${s}==`, `${h}.${p}.${s}=`, `${h} .${p}.${s}`, `${h}.${p}.${s}!`, `${h}.${p}.${s}.x`, `${h}.${p}.${s}AAA`, `${h}.${p}.`, `${h}..${s}`]) {
      expect(verifySignatureSync('RS256', rsa.publicKey, odd), odd.slice(-8)).toBeUndefined();
    }
  });
});

describe('verifySignatureSync: the CryptoKey jose generates', () => {
  it('PS256 with a generated (non-extractable) CryptoKey pair', async () => {
    const { publicKey, privateKey } = await generateKeyPair('PS256');
    const token = await sign('PS256', privateKey);
    expect(verifySignatureSync('PS256', publicKey as VerificationKey, token)).toBe(true);
    expect(verifySignatureSync('PS256', publicKey as VerificationKey, flipBit(token, 1))).toBe(false);
  });
});
