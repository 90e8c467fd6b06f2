// Making certificates in tests: openssl where the machine has it, else test/helpers/cert-tool.mjs
// (@peculiar/x509 over node's WebCrypto), so the tests need no system tool (a machine where apt
// installed nothing). CERTS_WITHOUT_OPENSSL=1 takes the second path even where openssl exists.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './sidecar.js';

export const useOpenssl = process.env.CERTS_WITHOUT_OPENSSL !== '1' && spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

const TOOL = path.join(ROOT, 'test', 'helpers', 'cert-tool.mjs');
const tool = (...args: string[]) => execFileSync(process.execPath, [TOOL, ...args], { stdio: 'pipe' });
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });

/** A self-signed certificate for an existing PEM private key file. */
export function selfSign(keyFile: string, certFile: string, cn: string, days = 2): void {
  if (useOpenssl) openssl('req', '-x509', '-new', '-key', keyFile, '-subj', `/CN=${cn}`, '-days', String(days), '-out', certFile);
  else tool('self-signed', '--key', keyFile, '--cn', cn, '--cert', certFile, '--days', String(days));
}

/** A CA certificate and its new EC P-256 key. */
export function newCa(cn: string, certFile: string, keyFile: string, days = 3): void {
  if (useOpenssl) {
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', String(days), '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-keyout', keyFile, '-out', certFile);
  } else tool('ca', '--cn', cn, '--cert', certFile, '--key', keyFile, '--days', String(days));
}

/** A certificate the CA signs, with a new EC P-256 key: serverAuth with `san` (default localhost and 127.0.0.1), or clientAuth. */
export function issueCert(ca: { certFile: string; keyFile: string }, o: { cn: string; certFile: string; keyFile: string; san?: string; client?: boolean; days?: number; serial: string; workDir: string }): void {
  const san = o.san ?? (o.client ? undefined : 'DNS:localhost,IP:127.0.0.1');
  if (!useOpenssl) {
    tool('issue', '--ca-cert', ca.certFile, '--ca-key', ca.keyFile, '--cn', o.cn, '--cert', o.certFile, '--key', o.keyFile, '--days', String(o.days ?? 2), ...(san ? ['--san', san] : []), ...(o.client ? ['--client'] : []));
    return;
  }
  const csr = path.join(o.workDir, `${path.basename(o.certFile)}.csr`);
  const ext = path.join(o.workDir, `${path.basename(o.certFile)}.ext`);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${o.cn}`, '-keyout', o.keyFile, '-out', csr);
  const lines = [o.client ? 'extendedKeyUsage=clientAuth' : 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE'];
  if (san) lines.push(`subjectAltName=${san}`);
  execFileSync('sh', ['-c', `cat > '${ext}'`], { input: `${lines.join('\n')}\n` });
  openssl('x509', '-req', '-in', csr, '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', o.serial, '-days', String(o.days ?? 2), '-extfile', ext, '-out', o.certFile);
}
