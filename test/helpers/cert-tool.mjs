// Certificates without openssl (a machine where apt installed nothing): the few operations the tests
// need, made with @peculiar/x509 over node's WebCrypto, as a command the synchronous test helpers run
// (test/helpers/certs.ts). Keys are EC P-256 unless --rsa; an existing key (self-signed) may be RSA or EC.
//   node cert-tool.mjs ca          --cn NAME --cert OUT --key OUT [--days N] [--rsa]
//   node cert-tool.mjs issue       --ca-cert F --ca-key F --cn NAME --cert OUT --key OUT [--san DNS:x,IP:y] [--client] [--days N] [--rsa]
//   node cert-tool.mjs self-signed --key F --cn NAME --cert OUT [--days N]
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);
const subtle = webcrypto.subtle;
const [cmd, ...rest] = process.argv.slice(2);
const opt = (name) => {
  const i = rest.indexOf(`--${name}`);
  return i < 0 ? undefined : rest[i + 1];
};
const flag = (name) => rest.includes(`--${name}`);
const days = Number(opt('days') ?? 2);
const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) };

const pem = (label, der) => `-----BEGIN ${label}-----\n${Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
const validity = () => {
  const notBefore = new Date(Date.now() - 60_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + days * 86_400_000) };
};
const serial = () => randomBytes(8).toString('hex').replace(/^[89a-f]/, '1');

async function newKeys() {
  return subtle.generateKey(flag('rsa') ? RSA : EC, true, ['sign', 'verify']);
}

/** A PEM private key file -> WebCrypto key pair (public key derived from it). */
async function loadKeys(file) {
  const key = createPrivateKey(readFileSync(file));
  const alg = key.asymmetricKeyType === 'rsa' ? RSA : EC;
  const privateKey = await subtle.importKey('pkcs8', key.export({ format: 'der', type: 'pkcs8' }), alg, true, ['sign']);
  const publicKey = await subtle.importKey('spki', createPublicKey(key).export({ format: 'der', type: 'spki' }), alg, true, ['verify']);
  return { privateKey, publicKey, alg };
}

function sans(s) {
  return s.split(',').map((e) => {
    const [type, ...v] = e.trim().split(':');
    return { type: type.toLowerCase() === 'ip' ? 'ip' : 'dns', value: v.join(':') };
  });
}

async function writeKey(keys, file) {
  writeFileSync(file, pem('PRIVATE KEY', await subtle.exportKey('pkcs8', keys.privateKey)), { mode: 0o600 });
}

if (cmd === 'ca') {
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name: `CN=${opt('cn')}`, ...validity(), keys, signingAlgorithm: flag('rsa') ? RSA : EC,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true), await x509.SubjectKeyIdentifierExtension.create(keys.publicKey)],
  });
  writeFileSync(opt('cert'), cert.toString('pem') + '\n');
  await writeKey(keys, opt('key'));
} else if (cmd === 'issue') {
  const ca = await loadKeys(opt('ca-key'));
  const caCert = new x509.X509Certificate(readFileSync(opt('ca-cert'), 'utf8'));
  const keys = await newKeys();
  const client = flag('client');
  const extensions = [
    new x509.BasicConstraintsExtension(false, undefined, false),
    new x509.ExtendedKeyUsageExtension([client ? x509.ExtendedKeyUsage.clientAuth : x509.ExtendedKeyUsage.serverAuth]),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    await x509.AuthorityKeyIdentifierExtension.create(caCert),
  ];
  const san = opt('san') ?? (client ? undefined : 'DNS:localhost,IP:127.0.0.1');
  if (san) extensions.push(new x509.SubjectAlternativeNameExtension(sans(san)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(), subject: `CN=${opt('cn')}`, issuer: caCert.subject, ...validity(), publicKey: keys.publicKey, signingKey: ca.privateKey, signingAlgorithm: ca.alg, extensions,
  });
  writeFileSync(opt('cert'), cert.toString('pem') + '\n');
  await writeKey(keys, opt('key'));
} else if (cmd === 'self-signed') {
  const keys = await loadKeys(opt('key'));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({ serialNumber: serial(), name: `CN=${opt('cn')}`, ...validity(), keys, signingAlgorithm: keys.alg });
  writeFileSync(opt('cert'), cert.toString('pem') + '\n');
} else {
  process.stderr.write('usage: cert-tool.mjs ca|issue|self-signed …\n');
  process.exit(2);
}
