// The API-token lifecycle end to end (issue 19), on real servers: a real SMTP server (smtp-server,
// in-process, with a password), a real HTTP webhook receiver that checks the HMAC signature and
// refuses the first attempts of each delivery (so the retries show), and a small Jira that knows
// alice's e-mail address. The injected clock moves through expiry warnings (7 and 1 days, each
// once), an unused token's warnings and revocation (the proxy then answers token_revoked), and the
// deletion of long-ended tokens; apiTokens.maxPerUser holds on every way to mint a token; no
// message, delivery row or log line carries a token secret. Then two replicas on one PostgreSQL
// database: the scheduled job runs on one of them, and a warning goes out once.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import { DAY_MS } from '../../src/api-tokens/status.js';
import type { LifecycleRun } from '../../src/api-tokens/lifecycle.js';
import '../../src/api-tokens/lifecycle-service.js';
import type { DeliveryRecord } from '../../src/store/lifecycle-store.js';
import { AdminClient, ADMIN_PASSWORD } from '../helpers/admin.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { freshDatabase } from '../helpers/postgres.js';
import { baseConfig, merge, ROOT, tempDir } from '../helpers/sidecar.js';

process.env.SIDECAR_ADMIN_PASSWORD = ADMIN_PASSWORD;
const run = promisify(execFile);
const HOUR = 3_600_000;
const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-pass-Xy7';
const WEBHOOK_SECRET = 'whsec-Kq2-test';
const JIRA_PAT = 'Bearer jira-service-pat';

// ---- the outside world: SMTP server, webhook receiver, Jira

interface Mail {
  from: string;
  to: string[];
  subject: string;
  text: string;
  headers: Record<string, string>;
  raw: string;
}

const decodeQp = (s: string) =>
  Buffer.from(
    s
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))),
    'latin1',
  ).toString('utf8');

/** RFC 2047 encoded words; the white space between two adjacent ones is not part of the text. */
const decodeWords = (s: string) =>
  s.replace(/\?=\s+=\?/g, '?==?').replace(/=\?utf-8\?([QB])\?(.*?)\?=/gi, (_, enc: string, text: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQp(text.replace(/_/g, ' ')),
  );

function parseMail(raw: string, from: string, to: string[]): Mail {
  const split = raw.search(/\r?\n\r?\n/);
  const head = raw.slice(0, split).replace(/\r?\n(?=[ \t])/g, ''); // unfolding (RFC 5322 2.2.3)
  const body = raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  const cte = (headers['content-transfer-encoding'] ?? '').toLowerCase();
  const text = cte === 'quoted-printable' ? decodeQp(body) : cte === 'base64' ? Buffer.from(body, 'base64').toString('utf8') : body;
  return { from, to, subject: decodeWords(headers.subject ?? ''), text: text.replace(/\r\n/g, '\n'), headers, raw };
}

const mails: Mail[] = [];
let smtp: SMTPServer;
let smtpPort: number;

interface Hook {
  deliveryId: string;
  attempt: number;
  raw: string;
  body: any;
  headers: http.IncomingHttpHeaders;
  signatureOk: boolean;
  answered: number;
}
const hooks: Hook[] = [];
/** Each delivery's first this-many attempts are answered 503. */
let failFirst = 2;
let hookServer: http.Server;
let hookUrl: string;

let jira: http.Server;
let jiraUrl: string;
const jiraSeen: string[] = [];

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  smtp = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: SMTP_USER });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (raw += c));
      stream.on('end', () => {
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        mails.push(parseMail(raw, from, session.envelope.rcptTo.map((r) => r.address)));
        cb();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  smtpPort = ((smtp as unknown as { server: NetServer }).server.address() as AddressInfo).port;

  const attempts = new Map<string, number>();
  hookServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const id = String(req.headers['x-sidecar-delivery'] ?? '');
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      const expected = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(raw).digest('hex')}`);
      const got = Buffer.from(String(req.headers['x-sidecar-signature'] ?? ''));
      const signatureOk = got.length === expected.length && timingSafeEqual(got, expected);
      const answered = req.url === '/refuse' || !signatureOk ? 400 : n <= failFirst ? 503 : 204;
      hooks.push({ deliveryId: id, attempt: n, raw: raw.toString('utf8'), body: JSON.parse(raw.toString('utf8')), headers: req.headers, signatureOk, answered });
      res.writeHead(answered).end();
    });
  });
  hookUrl = await listen(hookServer);

  jira = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://jira');
    jiraSeen.push(u.pathname + u.search);
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (u.pathname === '/rest/api/2/user') {
      if (req.headers.authorization !== JIRA_PAT) return json(401, { errorMessages: ['not authenticated'] });
      const name = u.searchParams.get('username');
      if (name === 'alice') return json(200, { name, emailAddress: 'alice@corp.example', active: true, groups: { size: 1, items: [{ name: 'jira-users' }] } });
      return json(404, { errorMessages: [`The user named '${name}' does not exist`] });
    }
    return json(200, { ok: true, path: u.pathname });
  });
  jiraUrl = await listen(jira);
});

afterAll(async () => {
  await new Promise<void>((r) => smtp?.close(() => r()));
  await new Promise((r) => hookServer?.close(r));
  await new Promise((r) => jira?.close(r));
});

/** The settings every sidecar here runs with (the tests change the lifecycle policy through the admin API). */
const lifecycleConfig = () => ({
  apiTokens: { creatorGroups: ['jira-users'], groupsFrom: 'creation', maxPerUser: 3, warnDays: [7, 1], revokeUnusedAfterDays: 0, deleteAfterDays: 0 },
  jiraGroupLookup: { authorization: JIRA_PAT },
  notifications: {
    email: { enabled: true, smtpUrl: `smtp://${SMTP_USER}:${SMTP_PASSWORD}@127.0.0.1:${smtpPort}`, from: 'Jira sidecar <sidecar@example.com>', addressTemplate: '{user}@users.example' },
    webhook: { enabled: true, url: `${hookUrl}/hook`, secret: WEBHOOK_SECRET, maxAttempts: 4, timeoutMs: 2000 },
  },
});

const lifecycleOf = (s: RunningSidecar) => s.runtime.deps.services.tokenLifecycle!;
const notifierOf = (s: RunningSidecar) => s.runtime.deps.services.notifier!;

describe('token lifecycle on one sidecar (SQLite)', () => {
  let issuer: TokenIssuer;
  let sidecar: RunningSidecar;
  let dataDir: string;
  let logs = '';
  const T0 = Date.now();
  const clock = fixedClock(T0);
  /** Every token secret minted here: none may appear in a message, a delivery row or a log line. */
  const secrets: string[] = [];
  /** bob's two tokens of the unused-token case (deleted in the deletion case). */
  let sync: { id: string; token: string };
  let report: { id: string; token: string };

  /** An admin session, a fresh one whenever the clock moved (sessions expire by the injected clock). */
  let session: { c: AdminClient; at: number } | undefined;
  const admin = async () => {
    if (session?.at === clock.now()) return session.c;
    const c = new AdminClient(sidecar.adminUrl);
    expect((await c.login()).status).toBe(200);
    session = { c, at: clock.now() };
    return c;
  };
  const setPolicy = async (apiTokens: Record<string, unknown>) => {
    const r = await (await admin()).editConfig((c) => Object.assign(c.apiTokens, apiTokens));
    expect(r.status, JSON.stringify(r.body)).toBe(200);
  };
  const mint = async (owner: string, name: string, days: number) => {
    const r = await (await admin()).call('POST', '/api/tokens', { owner, name, days, groups: ['jira-users'] });
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    secrets.push(r.body.token);
    return { id: r.body.id as string, token: r.body.token as string };
  };
  const proxy = async (token: string) => {
    const res = await fetch(`${sidecar.proxyUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${token}` } });
    const text = await res.text();
    return { status: res.status, error: res.status >= 400 ? (JSON.parse(text) as { error: string }).error : undefined };
  };
  /** One lifecycle run at the clock's time (forced: the tests move the clock, not the schedule), its messages delivered. */
  const runAt = async (t: number): Promise<LifecycleRun> => {
    clock.set(t);
    const r = await lifecycleOf(sidecar).run({ force: true });
    await notifierOf(sidecar).idle();
    return r;
  };
  const warnedKinds = (r: LifecycleRun) => (r.ran ? r.warned.map((w) => `${w.id} ${w.kind}`) : [`not run: ${r.why}`]);
  const mailsFor = (id: string) => mails.filter((m) => m.text.includes(id));
  const hooksFor = (id: string) => hooks.filter((h) => h.body.token?.id === id);
  const activity = async () => (await (await admin()).get('/api/admin-activity?limit=200')).body.items as Array<{ actor: string; action: string; target: string | null; after: any }>;

  beforeAll(async () => {
    issuer = await startTestIssuer();
    dataDir = tempDir('token-lifecycle-');
    const v = validate(
      merge(baseConfig(jiraUrl, dataDir), {
        ...lifecycleConfig(),
        log: { level: 'debug' },
        audit: { flushIntervalMs: 20 },
        jwt: { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] },
      }),
    );
    if (!v.ok) throw new Error(JSON.stringify(v.issues));
    const logger = createLogger('debug', { write: (s: string) => void (logs += s) });
    sidecar = await startSidecar({ config: v.config, logger, clock });
    notifierOf(sidecar).retryBaseMs = 20; // 20, 40, 80 ms between attempts instead of 1, 2, 4 s
    await lifecycleOf(sidecar).run(); // the start-up run (nothing to do yet) is over
  });

  afterAll(async () => {
    await sidecar?.close();
    await issuer?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  describe('apiTokens.maxPerUser', () => {
    it('self-service (POST /_sidecar/tokens) refuses the token past the limit; revoking one makes room', async () => {
      const jwt = `Bearer ${issuer.sign({ aud: 'jira-sidecar', sub: 'id-dave', preferred_username: 'dave', groups: ['jira-users'] })}`;
      const create = (name: string) =>
        fetch(`${sidecar.proxyUrl}/_sidecar/tokens`, { method: 'POST', headers: { authorization: jwt, 'content-type': 'application/json' }, body: JSON.stringify({ name, days: 1 }) });
      const ids: string[] = [];
      for (const n of ['one', 'two', 'three']) {
        const r = await create(n);
        expect(r.status).toBe(201);
        const b = (await r.json()) as { id: string; token: string };
        secrets.push(b.token);
        ids.push(b.id);
      }
      const refused = await create('four');
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({ error: 'bad_request', message: expect.stringContaining('3 active API tokens') });
      expect((await fetch(`${sidecar.proxyUrl}/_sidecar/tokens/${ids[0]}`, { method: 'DELETE', headers: { authorization: jwt } })).status).toBe(200);
      const again = await create('four');
      expect(again.status).toBe(201);
      secrets.push(((await again.json()) as { token: string }).token);
    });

    it('the admin API refuses it too, naming the owner field and the setting', async () => {
      const c = await admin();
      for (const n of ['a', 'b', 'c']) await mint('erin', n, 1);
      const r = await c.call('POST', '/api/tokens', { owner: 'erin', name: 'd', days: 1 });
      expect(r.status).toBe(400);
      expect(r.body.issues).toEqual([{ path: 'owner', message: expect.stringContaining('apiTokens.maxPerUser is 3') }]);
      expect((await c.get('/api/tokens?owner=erin')).body.tokens).toHaveLength(3);
    });

    it('and so does the CLI (`token create`), exit 1', async () => {
      const configFile = path.join(dataDir, 'cli-config.json');
      writeFileSync(configFile, JSON.stringify({ server: { dataDir }, upstream: { url: jiraUrl }, apiTokens: { maxPerUser: 3 } }));
      const cli = (owner: string) =>
        run(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'token', 'create', '--owner', owner, '--name', 'cli', '--days', '1', '--json', '-c', configFile], {
          env: { ...process.env, SIDECAR_CONFIG: '', SIDECAR_LOG_LEVEL: 'silent' },
        }).then(
          (r) => ({ code: 0, ...r }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
        );
      const refused = await cli('erin');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('erin already has 3 active API tokens (apiTokens.maxPerUser is 3)');
      const ok = await cli('frank');
      expect(ok.code, ok.stderr).toBe(0);
      secrets.push((JSON.parse(ok.stdout) as { token: string }).token);
    });
  });

  describe('expiry warnings', () => {
    let deploy: { id: string; token: string };

    it('nothing to say while a token is far from its expiry', async () => {
      deploy = await mint('alice', 'deploy', 30);
      expect(warnedKinds(await runAt(T0 + HOUR))).toEqual([]);
      expect(mailsFor(deploy.id)).toEqual([]);
    });

    it('7 days before: one e-mail to the address Jira has, one signed webhook call, delivered on the third attempt', async () => {
      const r = await runAt(T0 + 23 * DAY_MS + HOUR);
      expect(warnedKinds(r)).toEqual([`${deploy.id} expiry:7`]);
      const [mail, ...more] = mailsFor(deploy.id);
      expect(more).toEqual([]);
      expect(mail).toMatchObject({ from: 'sidecar@example.com', to: ['alice@corp.example'], subject: 'Your Jira API token "deploy" expires in 7 days' });
      expect(mail!.text).toContain('Hello alice,');
      expect(mail!.text).toContain(`your API token "deploy" (${deploy.id}) expires in 7 days.`);
      expect(mail!.headers['x-sidecar-event']).toBe('token.expiring');
      expect(jiraSeen).toContain('/rest/api/2/user?username=alice');

      const calls = hooksFor(deploy.id);
      expect(calls.map((h) => [h.attempt, h.answered])).toEqual([
        [1, 503],
        [2, 503],
        [3, 204],
      ]);
      expect(calls.every((h) => h.signatureOk && h.deliveryId === calls[0]!.deliveryId && h.raw === calls[0]!.raw)).toBe(true);
      const body = calls[0]!.body;
      expect(body).toEqual({
        event: 'token.expiring',
        token: { id: deploy.id, name: 'deploy', owner: 'alice', expiresAt: new Date(T0 + 30 * DAY_MS).toISOString(), lastUsedAt: null },
        detail: expect.stringContaining('It expires on'),
        time: new Date(T0 + 23 * DAY_MS + HOUR).toISOString(),
      });
      expect(calls[0]!.headers['x-sidecar-timestamp']).toBe(String(Math.floor(Date.parse(body.time) / 1000)));

      const log = (await (await admin()).get(`/api/notifications?tokenId=${deploy.id}`)).body as { deliveries: DeliveryRecord[]; channels: unknown };
      expect(log.channels).toEqual({ email: true, webhook: true });
      const byChannel = Object.fromEntries(log.deliveries.map((d) => [d.channel, d]));
      expect(byChannel.email).toMatchObject({ event: 'token.expiring', owner: 'alice', target: 'alice@corp.example', status: 'sent', attempts: 1, lastError: null });
      expect(byChannel.webhook).toMatchObject({ event: 'token.expiring', target: `${hookUrl}/hook`, status: 'sent', attempts: 3, lastError: 'HTTP 503', id: calls[0]!.deliveryId });
    });

    it('the same warning is not sent again', async () => {
      const before = [mails.length, hooks.length];
      expect(warnedKinds(await runAt(T0 + 23 * DAY_MS + 2 * HOUR))).toEqual([]);
      expect(warnedKinds(await runAt(T0 + 28 * DAY_MS))).toEqual([]);
      expect([mails.length, hooks.length]).toEqual(before);
    });

    it('1 day before: the 1-day warning, once; after expiry nothing more', async () => {
      expect(warnedKinds(await runAt(T0 + 29 * DAY_MS + HOUR))).toEqual([`${deploy.id} expiry:1`]);
      expect(mailsFor(deploy.id).map((m) => m.subject)).toEqual(['Your Jira API token "deploy" expires in 7 days', 'Your Jira API token "deploy" expires in 1 day']);
      expect(new Set(hooksFor(deploy.id).map((h) => h.deliveryId)).size).toBe(2);
      expect(warnedKinds(await runAt(T0 + 29 * DAY_MS + 2 * HOUR))).toEqual([]);
      expect(warnedKinds(await runAt(T0 + 30 * DAY_MS + HOUR))).toEqual([]);
      expect(mailsFor(deploy.id)).toHaveLength(2);
      expect((await sidecar.runtime.stores.lifecycle.warnings(deploy.id)).map((w) => w.kind)).toEqual(['expiry:7', 'expiry:1']);
      // Each run that did something is one admin-activity row.
      const rows = (await activity()).filter((a) => a.action === 'token.lifecycle' && a.after.warned.some((w: { id: string }) => w.id === deploy.id));
      expect(rows.map((a) => [a.actor, a.after.warned])).toEqual([
        ['lifecycle', [{ id: deploy.id, kind: 'expiry:1' }]],
        ['lifecycle', [{ id: deploy.id, kind: 'expiry:7' }]],
      ]);
    });
  });

  describe('unused tokens (apiTokens.revokeUnusedAfterDays)', () => {
    const U0 = T0 + 30 * DAY_MS + 2 * HOUR;

    it('7 days before an unused token would be revoked, its owner is warned (the template address: Jira does not know bob)', async () => {
      clock.set(U0);
      await setPolicy({ revokeUnusedAfterDays: 10 });
      sync = await mint('bob', 'sync', 60);
      report = await mint('bob', 'report', 60);
      const r = await runAt(U0 + 3 * DAY_MS + HOUR);
      expect(warnedKinds(r).sort()).toEqual([`${report.id} unused:7:${U0}`, `${sync.id} unused:7:${U0}`].sort());
      const mail = mailsFor(sync.id)[0]!;
      expect(mail).toMatchObject({ to: ['bob@users.example'], subject: 'Your Jira API token "sync" will be revoked in 7 days unless it is used' });
      expect(mail.text).toContain('It has not been used since it was created on');
      expect(hooksFor(sync.id).at(-1)!.body).toMatchObject({ event: 'token.unused', token: { id: sync.id, owner: 'bob', lastUsedAt: null } });
    });

    it('a use moves the deadline: the used token is warned again before its new deadline, the other one day before', async () => {
      clock.set(U0 + 4 * DAY_MS);
      expect(await proxy(report.token)).toEqual({ status: 200, error: undefined });
      const r = await runAt(U0 + 9 * DAY_MS + HOUR);
      expect(warnedKinds(r).sort()).toEqual([`${report.id} unused:7:${U0 + 4 * DAY_MS}`, `${sync.id} unused:1:${U0}`].sort());
      expect(mailsFor(report.id).at(-1)!.subject).toBe('Your Jira API token "report" will be revoked in 5 days unless it is used');
      expect(mailsFor(report.id).at(-1)!.text).toContain('It was last used on');
      expect(mailsFor(sync.id).at(-1)!.subject).toBe('Your Jira API token "sync" will be revoked in 1 day unless it is used');
    });

    it('after N days unused the token is revoked, its owner told, and the proxy refuses it (token_revoked)', async () => {
      // sync, warned a day before its revocation, is used after all: its deadline moves 10 days on.
      expect(await proxy(sync.token)).toEqual({ status: 200, error: undefined });
      expect(warnedKinds(await runAt(U0 + 10 * DAY_MS + HOUR))).toEqual([]);
      // Then neither is used again: report is past its deadline (U0 + 14 d) at the next run, sync at U0 + 19 d.
      const r1 = await runAt(U0 + 14 * DAY_MS + HOUR);
      expect(r1.ran && r1.revoked).toEqual([report.id]);
      expect(await proxy(report.token)).toEqual({ status: 401, error: 'token_revoked' });
      const r = await runAt(U0 + 19 * DAY_MS + 2 * HOUR);
      expect(r.ran && r.revoked).toEqual([sync.id]);
      expect(await proxy(sync.token)).toEqual({ status: 401, error: 'token_revoked' });
      const told = mailsFor(sync.id).at(-1)!;
      expect(told.subject).toBe('Your Jira API token "sync" was revoked: not used for 10 days');
      expect(hooksFor(sync.id).at(-1)!.body.event).toBe('token.revoked');
      const revokeRow = (await activity()).find((a) => a.action === 'token.revoke' && a.target === sync.id)!;
      expect(revokeRow).toMatchObject({ actor: 'lifecycle', after: { owner: 'bob', name: 'sync', reason: 'unused for 10 days' } });
      const tokens = (await (await admin()).get('/api/tokens?owner=bob')).body.tokens as Array<{ id: string; status: string }>;
      expect(Object.fromEntries(tokens.map((t) => [t.id, t.status]))).toEqual({ [sync.id]: 'revoked', [report.id]: 'revoked' });
    });
  });

  describe('deletion (apiTokens.deleteAfterDays)', () => {
    it('deletes tokens expired or revoked more than N days ago, records them first, and forgets their warnings', async () => {
      const now = T0 + 50 * DAY_MS + 5 * HOUR; // report was revoked 6 days ago, sync 1 day ago
      clock.set(now);
      await setPolicy({ revokeUnusedAfterDays: 0, deleteAfterDays: 5 });
      const keep = await mint('alice', 'keep', 30);
      const before = (await (await admin()).get('/api/tokens')).body.tokens as Array<{ id: string; name: string; expiresAt: string; revokedAt: string | null }>;
      const ended = (t: (typeof before)[number]) => (t.revokedAt ? Date.parse(t.revokedAt) : Date.parse(t.expiresAt));
      const due = before.filter((t) => ended(t) <= now - 5 * DAY_MS).map((t) => t.id);
      const recent = before.filter((t) => t.revokedAt && ended(t) > now - 5 * DAY_MS).map((t) => t.id);
      expect(due.length).toBeGreaterThanOrEqual(8); // dave's, erin's, frank's 1-day tokens and alice's "deploy"
      expect(recent).toHaveLength(1); // bob's sync, revoked a day ago
      expect(due).toContain(report.id);

      const r = await runAt(now);
      expect(r.ran && [...r.deleted].sort()).toEqual([...due].sort());
      const after = ((await (await admin()).get('/api/tokens')).body.tokens as Array<{ id: string }>).map((t) => t.id).sort();
      expect(after).toEqual(before.map((t) => t.id).filter((id) => !due.includes(id)).sort());
      expect(after).toContain(keep.id);
      const row = (await activity()).find((a) => a.action === 'token.lifecycle' && a.after.deleted.length)!;
      expect([...row.after.deleted].sort()).toEqual([...due].sort());
      for (const id of due) expect(await sidecar.runtime.stores.lifecycle.warnings(id)).toEqual([]);

      const later = await runAt(now + 5 * DAY_MS);
      expect(later.ran && [...later.deleted].sort()).toEqual([...recent].sort());
      expect(((await (await admin()).get('/api/tokens')).body.tokens as Array<{ id: string }>).map((t) => t.id)).toEqual([keep.id]);
    });
  });

  describe('admin API: the delivery log and a test message', () => {
    it('sends a test on each channel and lists the log newest first, bounded', async () => {
      failFirst = 0;
      const c = await admin();
      const hook = await c.call('POST', '/api/notifications/test', { channel: 'webhook' });
      expect(hook.status, JSON.stringify(hook.body)).toBe(200);
      expect(hook.body.delivery).toMatchObject({ channel: 'webhook', event: 'test', status: 'sent', attempts: 1, owner: 'admin', tokenId: null });
      expect(hooks.at(-1)!).toMatchObject({ signatureOk: true, body: { event: 'test', token: null } });
      clock.advance(1000); // newest first by time: one second later
      const mail = await c.call('POST', '/api/notifications/test', { channel: 'email', to: 'ops@example.com' });
      expect(mail.body.delivery).toMatchObject({ channel: 'email', event: 'test', status: 'sent', target: 'ops@example.com' });
      expect(mails.at(-1)!).toMatchObject({ to: ['ops@example.com'], subject: 'Your Jira API token "test" is a test message' });
      const log = await c.get('/api/notifications?limit=2');
      expect(log.body.deliveries.map((d: DeliveryRecord) => d.id)).toEqual([mail.body.delivery.id, hook.body.delivery.id]);
      expect((await c.get('/api/notifications?limit=0')).status).toBe(400);
      expect((await c.call('POST', '/api/notifications/test', { channel: 'sms' })).body.issues).toEqual([{ path: 'channel', message: 'must be "email" or "webhook"' }]);
    });

    it('failures land in the log and the logs, never in a crash: a refused SMTP login, a refusing webhook, a disabled channel', async () => {
      const c = await admin();
      const saved = await c.editConfig((cfg) => {
        cfg.notifications.email.smtpUrl = `smtp://${SMTP_USER}:wrong-pass-Zq9@127.0.0.1:${smtpPort}`;
        cfg.notifications.webhook.url = `${hookUrl}/refuse`;
      });
      expect(saved.status, JSON.stringify(saved.body)).toBe(200);
      const mail = (await c.call('POST', '/api/notifications/test', { channel: 'email' })).body.delivery as DeliveryRecord;
      expect(mail).toMatchObject({ status: 'failed', attempts: 1, target: 'admin@users.example' });
      expect(mail.lastError).toMatch(/auth|login|Invalid/i);
      expect(mail.lastError).not.toContain('wrong-pass-Zq9');
      const hook = (await c.call('POST', '/api/notifications/test', { channel: 'webhook' })).body.delivery as DeliveryRecord;
      expect(hook).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 400', target: `${hookUrl}/refuse` });
      expect(logs).toContain('notification e-mail not sent');
      expect(logs).not.toContain('wrong-pass-Zq9');

      expect((await c.editConfig((cfg) => (cfg.notifications.webhook.enabled = false))).status).toBe(200);
      const off = await c.call('POST', '/api/notifications/test', { channel: 'webhook' });
      expect(off.status).toBe(400);
      expect(off.body.issues[0].path).toBe('channel');
      expect((await fetch(`${sidecar.adminUrl}/healthz`)).status).toBe(200);
    });

    it('no token secret in any message, delivery row or log line', async () => {
      expect(secrets.length).toBeGreaterThanOrEqual(10);
      const rows = JSON.stringify(await sidecar.runtime.stores.lifecycle.listDeliveries({ limit: 1000 }));
      const everything = [...mails.map((m) => m.raw), ...hooks.map((h) => h.raw + JSON.stringify(h.headers)), rows, logs].join('\n');
      for (const s of secrets) expect(everything.includes(s), 'a token secret leaked').toBe(false);
      expect(everything).not.toContain(SMTP_PASSWORD);
      expect(everything).not.toContain(WEBHOOK_SECRET);
      expect(logs).not.toContain('token lifecycle run failed');
    });
  });
});

describe('two replicas on one PostgreSQL database', () => {
  let db: { url: string; drop(): Promise<void> };
  const sidecars: RunningSidecar[] = [];
  const dirs: string[] = [];
  const T0 = Date.now();
  const clock = fixedClock(T0);

  beforeAll(async () => {
    db = await freshDatabase('lifecycle');
    for (const name of ['replica-a', 'replica-b']) {
      const dir = tempDir('token-lifecycle-pg-');
      dirs.push(dir);
      const v = validate(
        merge(baseConfig(jiraUrl, dir), {
          ...lifecycleConfig(),
          server: { replicaName: name },
          store: { kind: 'postgres', url: db.url, poolSize: 4, syncIntervalMs: 200 },
          audit: { flushIntervalMs: 20 },
        }),
      );
      if (!v.ok) throw new Error(JSON.stringify(v.issues));
      const s = await startSidecar({ config: v.config, logger: createLogger('silent'), clock });
      notifierOf(s).retryBaseMs = 20;
      sidecars.push(s);
    }
    // The start-up runs: one of them stamped the run at T0, the other found it done.
    await Promise.all(sidecars.map((s) => lifecycleOf(s).run()));
  });

  afterAll(async () => {
    for (const s of sidecars) await s.close();
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the scheduled job runs on one replica per interval, and its warning goes out once', async () => {
    failFirst = 1;
    const [a, b] = sidecars as [RunningSidecar, RunningSidecar];
    const adminA = new AdminClient(a.adminUrl);
    expect((await adminA.login()).status).toBe(200);
    const created = await adminA.call('POST', '/api/tokens', { owner: 'alice', name: 'cluster', days: 30, groups: ['jira-users'] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;

    clock.set(T0 + 23 * DAY_MS + HOUR);
    const results = await Promise.all([lifecycleOf(a).run(), lifecycleOf(b).run()]);
    await Promise.all(sidecars.map((s) => notifierOf(s).idle()));
    const ran = results.filter((r) => r.ran);
    expect(ran).toHaveLength(1);
    expect(results.find((r) => !r.ran)).toMatchObject({ ran: false, why: expect.stringMatching(/^(recent|locked)$/) });
    expect(ran[0]!.ran && ran[0]!.warned).toEqual([{ id, kind: 'expiry:7' }]);
    const runner = results[0]!.ran ? 'replica-a' : 'replica-b';
    expect(await a.runtime.stores.lifecycle.lastRun('token-lifecycle')).toMatchObject({ at: T0 + 23 * DAY_MS + HOUR, replica: runner });

    // Forced runs on both at once (one replica at a time; noted warnings are not sent again).
    await Promise.all([lifecycleOf(a).run({ force: true }), lifecycleOf(b).run({ force: true })]);
    await Promise.all(sidecars.map((s) => notifierOf(s).idle()));

    const mailsForId = mails.filter((m) => m.text.includes(id));
    expect(mailsForId.map((m) => m.to)).toEqual([['alice@corp.example']]);
    const deliveries = new Set(hooks.filter((h) => h.body.token?.id === id).map((h) => h.deliveryId));
    expect(deliveries.size).toBe(1);
    expect(hooks.filter((h) => h.body.token?.id === id).map((h) => h.answered)).toEqual([503, 204]);
    const logged = await b.runtime.stores.lifecycle.listDeliveries({ tokenId: id });
    expect(logged.map((d) => `${d.channel} ${d.status}`).sort()).toEqual(['email sent', 'webhook sent']);

    // One activity row for the run, on the chain of the replica that ran it.
    await adminA.login();
    const rows = ((await adminA.get('/api/admin-activity?limit=100')).body.items as Array<{ action: string; replica: string; after: any }>).filter((r) => r.action === 'token.lifecycle');
    expect(rows.map((r) => [r.replica, r.after.warned])).toEqual([[runner, [{ id, kind: 'expiry:7' }]]]);
  });
});
