// `jira-auth-sidecar store copy --from LOCATION --to LOCATION`: moves an install between SQLite and
// PostgreSQL (store/copy.ts), then verifies every audit chain on the target and checks that each
// ends on the source's head. A PostgreSQL URL is only ever printed with its password masked.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { replicaName } from '../config/replica.js';
import { verifyAll } from '../audit/verify.js';
import { chainLabel, chainProblems, copyStores, CopyRefused, type CopyResult } from '../store/copy.js';
import type { ChainReport } from '../store/audit-store.js';
import type { Stores } from '../store/stores.js';
import { dbPath, openDb } from '../store/sqlite/db.js';
import { MigrationError } from '../store/sqlite/migrate.js';
import { sqliteStores } from '../store/sqlite/stores.js';
import { redactUrl } from '../store/postgres/pool.js';
import { openPostgresStores } from '../store/postgres/stores.js';
import { describeChainReport } from './audit.js';
import { die, loadOrExit, withoutPassword } from './common.js';

export type StoreLocation = { kind: 'sqlite'; dir: string } | { kind: 'postgres'; url: string };

/** "sqlite:PATH" (a data directory, as server.dataDir) or a postgres:// / postgresql:// URL. */
export function parseLocation(text: string): StoreLocation | undefined {
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  const m = /^sqlite:(.+)$/i.exec(text);
  return m ? { kind: 'sqlite', dir: m[1]! } : undefined;
}

/** The location as it may be printed. */
const shown = (l: StoreLocation) => (l.kind === 'sqlite' ? `sqlite:${path.resolve(l.dir)}` : redactUrl(l.url));

/** A refusal or failure to report (exit 1) once the stores are closed. */
class Stop extends Error {}

interface CopyOpts {
  from: string;
  to: string;
  replica?: string;
  progress?: boolean;
  config?: string;
}

export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('storage tools (moving an install between SQLite and PostgreSQL)');

  store
    .command('copy')
    .description('copy everything stored (tokens, admin accounts, saved configuration, credentials, audit log) into an empty SQLite or PostgreSQL store')
    .requiredOption('--from <location>', 'the store to copy: sqlite:PATH (a data directory) or postgres://user:password@host/db')
    .requiredOption('--to <location>', 'an empty store to copy into (migrated first), in the same forms')
    .option('--replica <name>', "the replica a SQLite source's audit rows belong to (default: server.replicaName, else <hostname>:<server.port>)")
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('-c, --config <file>', 'config file the default --replica is read from (default: $SIDECAR_CONFIG)')
    .addHelpText(
      'after',
      `
Locations:
  sqlite:PATH                       a data directory (server.dataDir); the database is PATH/sidecar.db
  postgres://user:password@host/db  a PostgreSQL database (postgresql:// too; ?sslmode=verify-full for TLS)

The target must be empty (exit 1 naming what it holds, nothing written). Stop the sidecars that
write to the source first: what they write during the copy may be missing on the target. Hashes and
sealed secrets are copied as stored: the same passwords, API tokens and admin keys work on the
target, and stored credentials open with the same SIDECAR_SECRET_KEY. Audit rows keep their ids
and hashes; at the end every chain is verified on the target and must end on the source's head
hash (else exit 1). A SQLite store holds one replica's audit chains: a PostgreSQL source with
several is refused.

Examples:
  jira-auth-sidecar store copy --from sqlite:./data --to postgres://sidecar:secret@db.internal/sidecar
  jira-auth-sidecar store copy --from postgres://sidecar:secret@db.internal/sidecar --to sqlite:./data-back
`,
    )
    .action(async (o: CopyOpts) => {
      const from = parseLocation(o.from) ?? die('--from must be sqlite:PATH (a data directory) or a postgres:// URL');
      const to = parseLocation(o.to) ?? die('--to must be sqlite:PATH (a data directory) or a postgres:// URL');
      if (from.kind === 'postgres' && o.replica !== undefined) die("--replica names the replica of a SQLite source's audit rows; a PostgreSQL source's rows name their own");
      if (shown(from) === shown(to)) die('--from and --to name the same store');
      if (from.kind === 'sqlite' && !existsSync(dbPath(from.dir))) die(`no SQLite database at ${dbPath(from.dir)} (sqlite:PATH names a data directory, as server.dataDir)`);
      const secret = (m: string) => withoutPassword(withoutPassword(m, from.kind === 'postgres' ? from.url : undefined), to.kind === 'postgres' ? to.url : undefined);

      const sourceReplica = from.kind === 'sqlite' ? (o.replica ?? replicaName(loadOrExit(o.config).config.server)) : undefined;
      const src = await openLocation(from, sourceReplica, 'source', secret);
      let dst: Stores | undefined;
      const bar = o.progress || process.stderr.isTTY ? new ProgressLine() : undefined;
      let writing = false;
      let result: CopyResult | undefined;
      let reports: ChainReport[] = [];
      try {
        let targetReplica: string | undefined;
        if (to.kind === 'sqlite') {
          // Checked before the target is created: SQLite's tables have no replica column.
          const replicas = [...new Set((await src.audit.chains()).map((c) => c.replica))];
          if (replicas.length > 1) {
            throw new Stop(`a SQLite store holds one replica's audit chains; the source has chains of ${replicas.map((r) => `"${r}"`).join(', ')} (nothing was written)`);
          }
          targetReplica = replicas[0] ?? sourceReplica ?? hostname();
        }
        dst = await openLocation(to, targetReplica, 'target', secret);
        result = await copyStores(src, dst, {
          onProgress: (p) => {
            writing = true;
            bar?.show(`copy ${p.label}`, p.copied, p.total ?? p.copied);
          },
        });
        const rowsOf = new Map(result.chains.map((c) => [chainLabel(c.chain), c.rows]));
        reports = await verifyAll(dst.audit, {
          onProgress: (chain, checked) => bar?.show(`verify ${chainLabel(chain)}`, checked, rowsOf.get(chainLabel(chain)) ?? checked),
        });
      } catch (e) {
        bar?.stop();
        process.exitCode = 1;
        if (e instanceof Stop || e instanceof CopyRefused) process.stderr.write(`${e.message}\n`);
        else if (result) process.stderr.write(`verifying the copy failed: ${secret((e as Error).message)}\n`);
        else {
          const partial = writing ? `; the target (${shown(to)}) now holds part of the copy: empty it before trying again` : '';
          process.stderr.write(`store copy failed: ${secret((e as Error).message)}${partial}\n`);
        }
        return;
      } finally {
        await dst?.close().catch(() => {});
        await src.close().catch(() => {});
      }
      bar?.stop();
      printResult(result!, reports, shown(from), shown(to), sourceReplica);
    });
}

async function openLocation(l: StoreLocation, replica: string | undefined, role: 'source' | 'target', secret: (m: string) => string): Promise<Stores> {
  try {
    if (l.kind === 'sqlite') return sqliteStores(openDb(l.dir).db, { ownsDb: true, replica });
    // A copy's statements are batches of thousands of rows: more time than a request's statement.
    return (await openPostgresStores({ url: l.url, replica, poolSize: 4, statementTimeoutMs: 120_000 })).stores;
  } catch (e) {
    if (e instanceof MigrationError) die(`migration of the ${role} failed: ${e.file}: ${secret(e.sqlError.message)}`);
    die(`cannot open the ${role} (${shown(l)}): ${secret((e as Error).message)}`);
  }
}

function printResult(r: CopyResult, reports: ChainReport[], from: string, to: string, sourceReplica: string | undefined): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`copied ${from}${sourceReplica ? ` (audit rows of replica "${sourceReplica}")` : ''} to ${to}:`);
  out(`  saved configuration: ${r.config.version ? `version ${r.config.version}, ${r.config.changes} change(s)` : 'none'}`);
  out(`  API tokens: ${r.tokens}`);
  out(`  admin users: ${r.adminUsers}, sessions: ${r.adminSessions}, API keys: ${r.adminApiKeys}, failed-login rows: ${r.loginFailures}`);
  out(`  stored credentials: ${r.credentials}`);
  out(`  token warnings: ${r.lifecycle.warnings}, notification deliveries: ${r.lifecycle.deliveries}`);
  for (const c of r.chains) out(`  audit ${chainLabel(c.chain)}: ${c.rows} row(s)${c.anchor ? ` after retention anchor at row ${c.anchor.lastId}` : ''}`);
  if (!r.chains.length) out('  audit log: empty');
  out('audit log on the target:');
  for (const rep of reports) out(`  ${describeChainReport(rep)}`);
  if (!reports.length) out('  empty: no chain to verify');
  const problems = chainProblems(r.chains, reports);
  if (problems.length) {
    process.stderr.write(`the copy does not match the source:\n${problems.map((p) => `  ${p}\n`).join('')}`);
    process.exitCode = 1;
    return;
  }
  out("done: every audit chain verifies on the target and ends on the source's head");
}

/** One progress bar on stderr, relabelled per concern and chain. */
class ProgressLine {
  private readonly bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{label} [{bar}] {value}/{total}', noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 1000 },
    cliProgress.Presets.shades_classic,
  );
  private started = false;

  show(label: string, value: number, total: number): void {
    if (!this.started) {
      this.bar.start(total, value, { label });
      this.started = true;
      return;
    }
    this.bar.setTotal(total);
    this.bar.update(value, { label });
  }

  stop(): void {
    if (this.started) this.bar.stop();
    this.started = false;
  }
}
