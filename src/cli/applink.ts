// `jira-auth-sidecar applink keygen`: a new RSA key pair for oauth1-impersonation, the config lines
// that use it, and the exact Jira steps that register the public key as an application link.
import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { die } from './common.js';

export interface KeygenOptions {
  consumerKey: string;
  consumerName: string;
  bits: number;
  /** Where the private key went (undefined: stdout). */
  privateKeyFile?: string;
}

/** The Jira-side steps and the sidecar config, for the public key just made. */
export function applinkInstructions(publicKeyPem: string, o: KeygenOptions): string {
  const keyLine = o.privateKeyFile ? `      privateKeyFile: ${o.privateKeyFile}` : '      privateKeyFile: /path/to/the/private-key.pem   # the key printed above, saved with mode 0600';
  return `Public key (paste the whole block, BEGIN and END lines included, into Jira):

${publicKeyPem.trim()}

Register the sidecar in Jira (Jira administrator, once per Jira; labels differ slightly between versions):
  1. Jira administration (cog) -> Applications -> Application links.
  2. "Create link": application type "Atlassian product" (in older versions just paste a URL),
     URL: the sidecar's own URL (any URL works: Jira only uses it as a name). When Jira says
     "No response was received from the URL you entered", click Continue.
  3. Link applications: Application Name "${o.consumerName}", Application Type "Generic Application",
     leave every field above blank and tick "Create incoming link". Continue.
  4. Incoming link: Consumer Key "${o.consumerKey}", Consumer Name "${o.consumerName}",
     Public Key: the block above. Continue.
  5. Edit the new link -> Incoming Authentication -> OAuth:
       [x] Allow 2-Legged OAuth
       Execute as: leave empty (with impersonation each request runs as the user it names)
       [x] Allow user impersonation through 2-Legged OAuth
     Save.

Configure the sidecar:
  upstream:
    identity:
      mode: oauth1-impersonation          # or per issuer / client: issuers: {<name>: oauth1-impersonation}
      oauth1:
        consumerKey: ${o.consumerKey}
${keyLine.replace(/^ {6}/, '        ')}
        # jiraBaseUrl: https://jira.example.com   # only if Jira sees itself at another URL than upstream.url

Check it: a request through the sidecar to /rest/api/2/myself answers with the caller's name. A 502
upstream_rejected_identity logs Jira's oauth_problem (timestamp_refused: fix the clocks;
signature_invalid: wrong key or jiraBaseUrl; consumer_key_unknown: step 4).

Whoever holds the private key can act as ANY Jira user, administrators included: keep it readable
by the sidecar only, and rotate it (run keygen again, replace the public key in step 4) if it leaks.
`;
}

function bitsOf(v: string): number {
  const n = Number(v);
  if (![2048, 3072, 4096].includes(n)) throw new InvalidArgumentError('use 2048, 3072 or 4096');
  return n;
}

export function registerApplinkCommands(program: Command): void {
  const applink = program.command('applink').description('Jira application link for oauth1-impersonation (OAuth 1.0a, RSA-SHA1)');
  applink
    .command('keygen')
    .description('create an RSA key pair; print the public key, the config and the Jira admin steps')
    .option('-o, --out <file>', 'write the private key to this file (mode 0600) instead of stdout')
    .option('--force', 'overwrite --out if it exists')
    .option('--consumer-key <key>', 'consumer key to register in Jira', 'jira-auth-sidecar')
    .option('--consumer-name <name>', 'consumer name shown in Jira', 'Jira auth sidecar')
    .option('--bits <n>', 'RSA modulus length: 2048, 3072 or 4096', bitsOf, 2048)
    .action((o: { out?: string; force?: boolean; consumerKey: string; consumerName: string; bits: number }) => {
      if (!/^[\x21-\x7e]{1,200}$/.test(o.consumerKey)) die('--consumer-key: 1-200 visible ASCII characters, no spaces');
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: o.bits });
      const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      let file: string | undefined;
      if (o.out) {
        file = path.resolve(o.out);
        try {
          // 'wx' refuses to follow or replace an existing file unless --force; mode applies on creation.
          writeFileSync(file, privatePem, { mode: 0o600, flag: o.force ? 'w' : 'wx' });
          chmodSync(file, 0o600);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          die(code === 'EEXIST' ? `${file} exists: choose another file or pass --force` : `cannot write ${file}: ${code ?? (e as Error).message}`);
        }
        process.stdout.write(`Private key written to ${file} (mode 0600).\n\n`);
      } else {
        process.stderr.write('WARNING: the private key is printed on stdout. Anyone who has it can act as any Jira user.\n' + 'Save it to a file only the sidecar can read (or use --out FILE) and clear your terminal scrollback.\n\n');
        process.stdout.write(`${privatePem}\n`);
      }
      process.stdout.write(applinkInstructions(publicPem, { consumerKey: o.consumerKey, consumerName: o.consumerName, bits: o.bits, privateKeyFile: file }));
    });
}
