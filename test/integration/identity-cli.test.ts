// The real CLI (`node dist/main.js`, built by pretest): applink keygen and credentials set|list|
// delete|rotate on the same database and key ring as serve.
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/sidecar.js';
import { validate } from '../../src/config/validate.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function cli(args: string[], env: Record<string, string | undefined> = {}, input?: string) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], {
    env: { ...process.env, SIDECAR_CONFIG: '', SIDECAR_SECRET_KEY: undefined, SIDECAR_SECRET_KEY_FILE: undefined, SIDECAR_SECRET_KEY_PREVIOUS: undefined, ...env } as NodeJS.ProcessEnv,
    input: input ?? '',
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('applink keygen', () => {
  it('writes the private key with mode 0600 and prints a matching public key and the Jira steps', () => {
    const dir = tempDir('applink-');
    dirs.push(dir);
    const file = path.join(dir, 'applink.pem');
    const r = cli(['applink', 'keygen', '--out', file, '--consumer-key', 'sidecar-prod']);
    expect(r.code, r.err).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.out).not.toContain('PRIVATE KEY');
    const pub = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/.exec(r.out)![0];
    const sig = sign('RSA-SHA1', Buffer.from('x'), createPrivateKey(readFileSync(file)));
    expect(verify('RSA-SHA1', Buffer.from('x'), createPublicKey(pub), sig)).toBe(true);
    for (const step of ['Application links', 'Create incoming link', 'Consumer Key "sidecar-prod"', 'Allow 2-Legged OAuth', 'Allow user impersonation']) expect(r.out).toContain(step);
    // the printed config is valid as it stands
    expect(validate({ upstream: { identity: { mode: 'oauth1-impersonation', oauth1: { consumerKey: 'sidecar-prod', privateKeyFile: file } } } }).ok).toBe(true);
    // an existing file is never overwritten without --force
    const again = cli(['applink', 'keygen', '--out', file]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/exists/);
  });

  it('without --out prints the private key on stdout with a warning on stderr', () => {
    const r = cli(['applink', 'keygen']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('-----BEGIN PRIVATE KEY-----');
    expect(r.err).toMatch(/WARNING/);
  });
});

describe('credentials', () => {
  const PAT = `NjQ0MDM1NzQ0NjA5${randomBytes(12).toString('hex')}`;
  const keyA = randomBytes(32).toString('base64');
  const keyB = randomBytes(32).toString('base64');

  it('set (stdin) / list / rotate / delete, with the secret never printed or stored in clear', () => {
    const dataDir = tempDir('credentials-cli-');
    dirs.push(dataDir);
    const env = { SIDECAR_DATA_DIR: dataDir, SIDECAR_SECRET_KEY: keyA };

    const noKey = cli(['credentials', 'set', '--client', 'app-svc'], { SIDECAR_DATA_DIR: dataDir }, `${PAT}\n`);
    expect(noKey.code).toBe(1);
    expect(noKey.err).toMatch(/SIDECAR_SECRET_KEY/);

    expect(cli(['credentials', 'set', '--client', 'app-svc', '--user', 'x'], env).code).toBe(1); // exactly one subject
    const set = cli(['credentials', 'set', '--client', 'app-svc', '--note', 'svc-integration PAT'], env, `${PAT}\n`);
    expect(set.code, set.err).toBe(0);
    expect(set.out).toMatch(/stored the Jira credential for client:app-svc/);
    const fromEnv = cli(['credentials', 'set', '--user', 'alice', '--from-env', 'MY_PAT'], { ...env, MY_PAT: PAT });
    expect(fromEnv.code, fromEnv.err).toBe(0);

    const list = cli(['credentials', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const doc = JSON.parse(list.out) as { credentials: Array<{ subjectType: string; subject: string; keyId: string }>; keys: { notOnPrimary: number } };
    expect(doc.credentials.map((c) => `${c.subjectType}:${c.subject}`)).toEqual(['client:app-svc', 'user:alice']);
    const idA = doc.credentials[0]!.keyId;

    // rotation: B primary, A previous -> rotate re-seals both; B alone then lists them on B
    const rot = cli(['credentials', 'rotate'], { SIDECAR_DATA_DIR: dataDir, SIDECAR_SECRET_KEY: keyB, SIDECAR_SECRET_KEY_PREVIOUS: keyA });
    expect(rot.code, rot.out + rot.err).toBe(0);
    expect(rot.out).toMatch(/re-encrypted 2/);
    const afterRot = JSON.parse(cli(['credentials', 'list', '--json'], { SIDECAR_DATA_DIR: dataDir, SIDECAR_SECRET_KEY: keyB }).out) as typeof doc;
    expect(afterRot.keys.notOnPrimary).toBe(0);
    expect(afterRot.credentials.every((c) => c.keyId !== idA)).toBe(true);

    // rotate without the key that sealed a row reports it and exits 1 (the row is kept)
    const stale = cli(['credentials', 'rotate'], { SIDECAR_DATA_DIR: dataDir, SIDECAR_SECRET_KEY: keyA });
    expect(stale.code).toBe(1);
    expect(stale.out).toMatch(/failed: 2/);

    const del = cli(['credentials', 'delete', '--user', 'alice'], env);
    expect(del.code).toBe(0);
    expect(cli(['credentials', 'delete', '--user', 'alice'], env).code).toBe(1);
    expect(cli(['credentials', 'list'], env).out).toMatch(/client:app-svc/);

    const everything = [noKey, set, fromEnv, list, rot, stale, del].map((r) => r.out + r.err).join('\n');
    expect(everything).not.toContain(PAT);
    const bytes = Buffer.concat(readdirSync(dataDir).map((f) => readFileSync(path.join(dataDir, f))));
    expect(bytes.includes(Buffer.from(PAT))).toBe(false);
    const db = new Database(path.join(dataDir, 'sidecar.db'), { readonly: true });
    try {
      const actions = db.prepare("SELECT action, target, before_json, after_json FROM admin_audit WHERE action LIKE 'credential.%' ORDER BY id").all() as Array<Record<string, string | null>>;
      expect(actions.map((a) => a.action)).toEqual(['credential.create', 'credential.create', 'credential.rotate', 'credential.rotate', 'credential.delete']);
      expect(JSON.stringify(actions)).not.toContain(PAT);
    } finally {
      db.close();
    }
    expect(existsSync(path.join(dataDir, 'sidecar.db'))).toBe(true);
  });
});
