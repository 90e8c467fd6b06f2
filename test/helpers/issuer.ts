// The test token issuer (src/demo/token-issuer.ts) plus the forgeries and certificates tests need.
import { createHmac, type KeyObject } from 'node:crypto';
import { writeFileSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { startTokenIssuer, makeKey, signRaw, type TokenIssuer, type IssuerKey } from '../../src/demo/token-issuer.js';
import { tempDir } from './sidecar.js';
import { selfSign } from './certs.js';

export { startTokenIssuer, makeKey, signRaw, type TokenIssuer, type IssuerKey };

export const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
export const nowSec = () => Math.floor(Date.now() / 1000);

/** An unsecured JWT (RFC 7519 §6): alg "none" (any spelling) and an empty signature. */
export function unsecuredJwt(payload: Record<string, unknown>, alg = 'none'): string {
  return `${b64u({ alg, typ: 'JWT' })}.${b64u(payload)}.`;
}

/** The classic key-confusion forgery: HS256 keyed with the issuer's PUBLIC key (PEM text, as a naive verifier would). */
export function hmacWithPublicKey(payload: Record<string, unknown>, publicKeyPem: string, kid?: string, alg: 'HS256' | 'HS512' = 'HS256'): string {
  const input = `${b64u({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })}.${b64u(payload)}`;
  return `${input}.${createHmac(alg === 'HS256' ? 'sha256' : 'sha512', publicKeyPem).update(input).digest('base64url')}`;
}

/** A self-signed X.509 certificate (PEM) for a private key (node has no cert builder: test/helpers/certs.ts). */
export function selfSignedCert(privateKey: KeyObject, cn = 'jira-sidecar-test'): string {
  const dir = tempDir('cert-');
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    writeFileSync(keyFile, privateKey.export({ format: 'pem', type: 'pkcs8' }));
    selfSign(keyFile, certFile, cn);
    return readFileSync(certFile, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The base64 DER of a PEM certificate (an x5c entry). */
export const certDerB64 = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

export async function startTestIssuer(): Promise<TokenIssuer> {
  return startTokenIssuer();
}
