// Certificates for TLS tests, made with openssl (node has no certificate builder): a private CA,
// and server or client certificates it signs. EC P-256 keys: quick to make.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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

const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

function describe(certFile: string, keyFile: string): Issued {
  const cert = readFileSync(certFile, 'utf8');
  const x = new X509Certificate(cert);
  return { certFile, keyFile, cert, key: readFileSync(keyFile, 'utf8'), fingerprint256: x.fingerprint256, serialNumber: x.serialNumber, notAfter: new Date(x.validTo) };
}

/** A self-signed CA in `dir` (a new temporary directory when not given). */
export function makeCa(name = 'test', dir = mkdtempSync(path.join(tmpdir(), 'jas-tls-'))): TestCa {
  const f = (n: string) => path.join(dir, n);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3', '-subj', `/CN=${name} CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', f(`${name}-ca.key`), '-out', f(`${name}-ca.pem`));
  const ca = describe(f(`${name}-ca.pem`), f(`${name}-ca.key`));
  let serial = 0;
  return {
    ...ca,
    issue(certName, o = {}) {
      const key = f(`${certName}.key`);
      const csr = f(`${certName}.csr`);
      const crt = f(`${certName}.pem`);
      const ext = f(`${certName}.ext`);
      openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${o.cn ?? certName}`, '-keyout', key, '-out', csr);
      const lines = [o.client ? 'extendedKeyUsage=clientAuth' : 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE'];
      if (o.san ?? !o.client) lines.push(`subjectAltName=${o.san ?? 'DNS:localhost,IP:127.0.0.1'}`);
      writeFileSync(ext, `${lines.join('\n')}\n`);
      openssl('x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', String(Date.now() * 100 + ++serial),
        '-days', String(o.days ?? 2), '-extfile', ext, '-out', crt);
      return describe(crt, key);
    },
  };
}
