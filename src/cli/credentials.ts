// `jira-auth-sidecar credentials set|list|delete|rotate`: the Jira credentials credential-map forwards
// (a service account's PAT per client id or user), on the same database and key ring as `serve`.
// The secret is read from stdin (hidden on a terminal) or an environment variable, never from argv
// (argv is visible in `ps` and shell history), and is never printed.
import type { Command } from 'commander';
import { systemClock } from '../clock.js';
import { recordAdminAction } from '../audit/record-admin.js';
import { CredentialError, CredentialMap, type CredentialSubjectType, type CredentialSummary } from '../credential-map/credentials.js';
import { KeyRingError, loadKeyRing } from '../credential-map/secret-keys.js';
import type { AuditStore } from '../store/audit-store.js';
import { die, loadOrExit, openStoresOrExit } from './common.js';

interface SubjectOpts {
  client?: string;
  user?: string;
  config?: string;
}

function subjectOf(o: SubjectOpts): { type: CredentialSubjectType; id: string } {
  if ((o.client === undefined) === (o.user === undefined)) die('name exactly one subject: --client <client id> (a service principal) or --user <Jira username>');
  return o.client !== undefined ? { type: 'client', id: o.client } : { type: 'user', id: o.user! };
}

async function withStore<T>(configFile: string | undefined, fn: (store: CredentialMap, audit: AuditStore) => Promise<T>): Promise<T> {
  const { config } = loadOrExit(configFile ?? process.env.SIDECAR_CONFIG);
  let keys;
  try {
    keys = loadKeyRing(process.env);
  } catch (e) {
    if (e instanceof KeyRingError) die(`key error: ${e.message}`);
    throw e;
  }
  const { stores } = await openStoresOrExit(config);
  try {
    return await fn(new CredentialMap(stores.credentials, keys, systemClock), stores.audit);
  } catch (e) {
    if (e instanceof CredentialError) die(`${e.code === 'invalid' ? 'invalid input' : 'cannot do that'}: ${e.message}`);
    throw e;
  } finally {
    await stores.close();
  }
}

/** One line from stdin; on a terminal the characters are not echoed. */
async function readSecret(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  }
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve) => {
    let value = '';
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          stdin.setRawMode(false);
          stdin.pause();
          stdin.off('data', onData);
          process.stderr.write('\n');
          return resolve(value);
        }
        if (ch === '\u0003') {
          stdin.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

const row = (c: CredentialSummary) => [`${c.subjectType}:${c.subject}`, c.kind, c.keyId, new Date(c.updatedAt).toISOString(), c.createdBy, c.note ?? ''];

function table(items: CredentialSummary[]): string {
  const cells = [['SUBJECT', 'KIND', 'KEY ID', 'UPDATED', 'BY', 'NOTE'], ...items.map((c) => row(c).map((v) => v.replace(/[\x00-\x1f\x7f]/g, '?')))];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** Audit summary of a credential: never any of the secret (names avoid the audit masker's key/token words). */
const auditView = (c: CredentialSummary | undefined) => c && { subject: `${c.subjectType}:${c.subject}`, kind: c.kind, sealedWith: c.keyId, note: c.note };

export function registerCredentialCommands(program: Command): void {
  const cmd = program
    .command('credentials')
    .description('Jira credentials for upstream.identity credential-map (encrypted with SIDECAR_SECRET_KEY / SIDECAR_SECRET_KEY_FILE)');

  cmd
    .command('set')
    .description('store (or replace) the Jira PAT forwarded for a client id or a user; the PAT is read from stdin')
    .option('--client <id>', 'a service principal (client-credentials tokens), by client id (azp / appid)')
    .option('--user <name>', 'a Jira username')
    .option('--from-env <VAR>', 'read the PAT from this environment variable instead of stdin')
    .option('--note <text>', 'free text shown in list (e.g. which Jira account the PAT belongs to)')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action(async (o: SubjectOpts & { fromEnv?: string; note?: string }) => {
      const subject = subjectOf(o);
      let secret: string;
      if (o.fromEnv) {
        secret = process.env[o.fromEnv] ?? '';
        if (!secret) die(`environment variable ${o.fromEnv} is empty or not set`);
      } else secret = await readSecret(`Jira personal access token for ${subject.type}:${subject.id}: `);
      await withStore(o.config, async (store, audit) => {
        const before = await store.get(subject.type, subject.id);
        const saved = await store.set({ subjectType: subject.type, subject: subject.id, secret, createdBy: 'cli', ...(o.note !== undefined ? { note: o.note } : {}) });
        await recordAdminAction(audit, systemClock, { actor: 'cli', action: before ? 'credential.replace' : 'credential.create', target: `${subject.type}:${subject.id}`, before: auditView(before), after: auditView(saved) });
        process.stdout.write(`${before ? 'replaced' : 'stored'} the Jira credential for ${subject.type}:${subject.id} (encrypted with key ${saved.keyId})\n`);
      });
    });

  cmd
    .command('list')
    .description('list stored credentials (subjects and key ids; never any part of a secret)')
    .option('--json', 'one JSON document')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((o: { json?: boolean; config?: string }) =>
      withStore(o.config, async (store) => {
        const items = await store.list();
        const status = await store.status();
        if (o.json) return void process.stdout.write(`${JSON.stringify({ credentials: items, keys: status })}\n`);
        process.stdout.write(items.length ? `${table(items)}\n` : 'no stored credentials\n');
        if (!status.keyLoaded) process.stdout.write('note: no encryption key is set (SIDECAR_SECRET_KEY / SIDECAR_SECRET_KEY_FILE): stored credentials cannot be used\n');
        else if (status.notOnPrimary) process.stdout.write(`note: ${status.notOnPrimary} credential(s) are not sealed with the primary key ${status.primaryKeyId}: run \`credentials rotate\`\n`);
      }),
    );

  cmd
    .command('delete')
    .description('delete the stored credential of a client id or a user')
    .option('--client <id>', 'client id')
    .option('--user <name>', 'Jira username')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((o: SubjectOpts) => {
      const subject = subjectOf(o);
      return withStore(o.config, async (store, audit) => {
        const before = await store.get(subject.type, subject.id);
        if (!before || !(await store.delete(subject.type, subject.id))) die(`no stored credential for ${subject.type}:${subject.id}`);
        await recordAdminAction(audit, systemClock, { actor: 'cli', action: 'credential.delete', target: `${subject.type}:${subject.id}`, before: auditView(before) });
        process.stdout.write(`deleted the Jira credential for ${subject.type}:${subject.id}\n`);
      });
    });

  cmd
    .command('rotate')
    .description('re-encrypt every stored credential with the primary key (after making a new key primary; keep the old one in SIDECAR_SECRET_KEY_PREVIOUS or the key file until this succeeds)')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((o: { config?: string }) =>
      withStore(o.config, async (store, audit) => {
        const r = await store.rotate();
        const primary = (await store.status()).primaryKeyId;
        await recordAdminAction(audit, systemClock, { actor: 'cli', action: 'credential.rotate', after: { sealedWith: primary, reencrypted: r.reencrypted, alreadyCurrent: r.alreadyCurrent, failed: r.failed.length } });
        process.stdout.write(`re-encrypted ${r.reencrypted}, already on key ${primary}: ${r.alreadyCurrent}, failed: ${r.failed.length}\n`);
        for (const f of r.failed) process.stdout.write(`  ${f.subjectType}:${f.subject} (key ${f.keyId}): ${f.reason}\n`);
        if (r.failed.length) process.exit(1);
      }),
    );
}
