// Certificates for TLS tests (openssl, or without it test/helpers/certs.ts's pure-JS tool): a private
// CA, and server or client certificates it signs. EC P-256 keys: quick to make.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { issueCert, newCa } from './certs.js';

export interface Issued {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
  /** SHA-256 fingerprint as node prints it (X509Certificate.fingerprint256, peer certificates). */
  fingerprint256: string;
  serialNumber: string;
  notAfter: Date;
}

export interface TestCa extends Issued {
  /** A certificate signed by this CA: `san` e.g. "DNS:localhost,IP:127.0.0.1"; client: clientAuth usage. */
  issue(name: string, o?: { cn?: string; san?: string; client?: boolean; days?: number }): Issued;
}


function describe(certFile: string, keyFile: string): Issued {
  const cert = readFileSync(certFile, 'utf8');
  const x = new X509Certificate(cert);
  return { certFile, keyFile, cert, key: readFileSync(keyFile, 'utf8'), fingerprint256: x.fingerprint256, serialNumber: x.serialNumber, notAfter: new Date(x.validTo) };
}

/** A self-signed CA in `dir` (a new temporary directory when not given). */
export function makeCa(name = 'test', dir = mkdtempSync(path.join(tmpdir(), 'jas-tls-'))): TestCa {
  const f = (n: string) => path.join(dir, n);
  newCa(`${name} CA`, f(`${name}-ca.pem`), f(`${name}-ca.key`));
  const ca = describe(f(`${name}-ca.pem`), f(`${name}-ca.key`));
  let serial = 0;
  return {
    ...ca,
    issue(certName, o = {}) {
      const key = f(`${certName}.key`);
      const crt = f(`${certName}.pem`);
      const opts: Parameters<typeof issueCert>[1] = { cn: o.cn ?? certName, certFile: crt, keyFile: key, client: o.client ?? false, serial: String(Date.now() * 100 + ++serial), workDir: dir };
      if (o.san !== undefined) opts.san = o.san;
      if (o.days !== undefined) opts.days = o.days;
      issueCert(ca, opts);
      return describe(crt, key);
    },
  };
}
