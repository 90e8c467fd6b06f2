// Reading and checking the PEM files of server.tls, admin.tls and upstream.tls. One function serves
// config validation (start, `config validate`, PUT /api/config, reload) and the runtime, which
// re-reads the files when they change (http/tls.ts): a pair that would not load is reported here,
// by the field it came from, before anything uses it. Never throws; never echoes file contents.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

export interface TlsFiles {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** What the files hold, as node's TLS options take it, with the parsed leaf certificate. */
export interface TlsMaterial {
  cert?: string;
  key?: string;
  ca?: string;
  /** The first certificate of certFile (the one presented). */
  leaf?: X509Certificate;
}

export type TlsField = 'certFile' | 'keyFile' | 'caFile';
export interface TlsFileIssue {
  field: TlsField;
  message: string;
}

export type TlsRead = { ok: true; material: TlsMaterial } | { ok: false; issues: TlsFileIssue[] };

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readText(file: string): { text: string } | { problem: string } {
  try {
    const text = readFileSync(file, 'utf8');
    if (text.trim() === '') return { problem: `is empty: ${file}` };
    return { text };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: `file not found: ${file}` };
    if (code === 'EACCES' || code === 'EPERM') return { problem: `cannot be read (permission denied): ${file}` };
    if (code === 'EISDIR') return { problem: `is a directory, not a PEM file: ${file}` };
    return { problem: `cannot be read (${code ?? (e as Error).message}): ${file}` };
  }
}

/** "CN=x\nO=y" -> "CN=x, O=y" (X509Certificate prints one attribute per line). */
export const oneLine = (dn: string) => dn.split('\n').join(', ');

/** "CN=sidecar.example, sha256 AB:CD:EF:01…, until 2026-05-01T00:00:00.000Z" */
export function describeCertificate(x: X509Certificate): string {
  return `${oneLine(x.subject)}, sha256 ${x.fingerprint256.slice(0, 23)}…, until ${new Date(x.validTo).toISOString()}`;
}

/**
 * Reads the files that are set and checks they make a usable TLS configuration: certFile holds a
 * certificate, keyFile an unencrypted private key that belongs to it, caFile at least one
 * certificate, and node's own tls.createSecureContext accepts them together.
 */
export function readTlsFiles(f: TlsFiles): TlsRead {
  const issues: TlsFileIssue[] = [];
  const material: TlsMaterial = {};
  let key: KeyObject | undefined;
  const read = (field: TlsField): string | undefined => {
    const file = f[field];
    if (file === undefined) return undefined;
    const r = readText(file);
    if ('problem' in r) {
      issues.push({ field, message: r.problem });
      return undefined;
    }
    return r.text;
  };
  const cert = read('certFile');
  if (cert !== undefined) {
    try {
      material.leaf = new X509Certificate(cert);
      material.cert = cert;
    } catch {
      issues.push({ field: 'certFile', message: `holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${f.certFile}` });
    }
  }
  const keyText = read('keyFile');
  if (keyText !== undefined) {
    try {
      key = createPrivateKey(keyText);
      material.key = keyText;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      issues.push({
        field: 'keyFile',
        message:
          code === 'ERR_MISSING_PASSPHRASE' || /passphrase|encrypted/i.test((e as Error).message)
            ? `is an encrypted key: the sidecar needs it unencrypted (keep the file readable by its user only): ${f.keyFile}`
            : `holds no PEM private key (-----BEGIN PRIVATE KEY-----): ${f.keyFile}`,
      });
    }
  }
  const ca = read('caFile');
  if (ca !== undefined) {
    const blocks = ca.match(PEM_CERT) ?? [];
    if (blocks.length === 0) issues.push({ field: 'caFile', message: `holds no PEM certificate (-----BEGIN CERTIFICATE-----): ${f.caFile}` });
    else {
      const bad = blocks.findIndex((b) => {
        try {
          new X509Certificate(b);
          return false;
        } catch {
          return true;
        }
      });
      if (bad >= 0) issues.push({ field: 'caFile', message: `certificate ${bad + 1} of ${blocks.length} cannot be read: ${f.caFile}` });
      else material.ca = ca;
    }
  }
  if (material.leaf && key && !material.leaf.checkPrivateKey(key)) {
    issues.push({ field: 'keyFile', message: `does not belong to the certificate in certFile (${oneLine(material.leaf.subject)}): ${f.keyFile}` });
  }
  if (issues.length) return { ok: false, issues };
  // What node itself will be given: anything it still refuses (a key type TLS cannot use) is said here.
  try {
    tls.createSecureContext({ cert: material.cert, key: material.key, ca: material.ca, minVersion: f.minVersion });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    const field: TlsField = /KEY/.test(code) || material.cert === undefined ? (material.key ? 'keyFile' : 'caFile') : 'certFile';
    return { ok: false, issues: [{ field, message: `not usable for TLS (${code || (e as Error).message})` }] };
  }
  return { ok: true, material };
}

/** True when the files hold the same bytes as before (a change event that changed nothing). */
export function sameMaterial(a: TlsMaterial | undefined, b: TlsMaterial): boolean {
  return a !== undefined && a.cert === b.cert && a.key === b.key && a.ca === b.ca;
}
