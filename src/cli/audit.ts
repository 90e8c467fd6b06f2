// `audit verify` (walk every hash chain, each replica's request and admin chain, report the first
// broken link of each) and `audit export` (stream a filtered range to a file as CSV or NDJSON, with a
// progress bar on stderr when it is a terminal). Both only read, so they are safe while the sidecar
// runs (WAL readers do not block its writer).
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { die, loadOrExit, openStoresOrExit } from './common.js';
import type { Config } from '../config/schema.js';
import type { ChainReport } from '../store/audit-store.js';
import type { Stores } from '../store/stores.js';
import { verifyAll } from '../audit/verify.js';
import { AuditFilterError, parseAuditFilters } from '../audit/filters.js';
import { exportAudit, type ExportFormat } from '../audit/export.js';

/** The stores of the configured data dir, named as `serve` names its replica. */
async function openStores(config: Config): Promise<Stores> {
  return (await openStoresOrExit(config)).stores;
}

/** One line per chain; the replica in front, so every replica's lines read alike. */
export function describeChainReport(r: ChainReport): string {
  const name = `[${r.chain.replica}] ${r.chain.kind === 'request' ? 'request log' : 'admin log'}`;
  const start = r.anchorId ? ` (after retention anchor at row ${r.anchorId})` : '';
  if (r.ok) return `${name}: OK, ${r.count} row(s) verified${start}; head row ${r.headId} hash ${r.headHash}`;
  return `${name}: BROKEN at row ${r.break!.id} (${r.break!.problem}): ${r.break!.detail}; ${r.count - 1} row(s) before it verified${start}`;
}

interface ExportOpts {
  from?: string;
  to?: string;
  format: string;
  out?: string;
  progress?: boolean;
  user?: string;
  client?: string;
  token?: string;
  ip?: string;
  decision?: string;
  status?: string;
  path?: string;
  replica?: string;
  credentialKind?: string;
  wouldDeny?: string;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('audit log tools (tamper check, export)');

  audit
    .command('verify')
    .description('walk the hash chains of the audit log; exit 1 naming the first broken link')
    .action(async () => {
      const { config } = loadOrExit();
      const stores = await openStores(config);
      try {
        const reports = await verifyAll(stores.audit, { onReport: (r) => process.stdout.write(`${describeChainReport(r)}\n`) });
        if (!reports.length) process.stdout.write('the audit log is empty: no chain to verify\n');
        process.exitCode = reports.every((r) => r.ok) ? 0 : 1;
      } finally {
        await stores.close();
      }
    });

  audit
    .command('export')
    .description('stream audit rows (oldest first) as CSV or NDJSON; times are ISO 8601 or ms since the epoch')
    .option('--from <time>', 'inclusive start')
    .option('--to <time>', 'exclusive end')
    .option('--format <format>', 'csv | ndjson', 'csv')
    .option('--out <file>', 'output file (default: stdout)')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .option('--user <name>', 'only this Jira user')
    .option('--client <id>', 'only this OAuth client id')
    .option('--token <id>', 'only this API token id')
    .option('--ip <address>', 'only this client IP')
    .option('--decision <d>', 'allow | deny | passthrough | error')
    .option('--status <s>', 'HTTP status (403) or class (4xx)')
    .option('--path <prefix>', 'path prefix, e.g. /rest/api/2/')
    .option('--replica <name>', "only this replica's rows (server.replicaName)")
    .option('--credential-kind <kind>', 'jwt | api-token | jira-pat | opaque-bearer | basic | oauth1 | session | anonymous')
    .option('--would-deny <code>', 'rows a report-mode rule would have refused with this error code, or any')
    .action(async (o: ExportOpts) => {
      if (o.format !== 'csv' && o.format !== 'ndjson') die('--format must be csv or ndjson');
      let filters: ReturnType<typeof parseAuditFilters>;
      try {
        const { from, to, user, client, token, ip, decision, status, path, replica, credentialKind, wouldDeny } = o;
        filters = parseAuditFilters({ from, to, user, client, token, ip, decision, status, path, replica, credentialKind, wouldDeny });
      } catch (e) {
        // Named as the flag is spelled: credentialKind is --credential-kind (the message starts with the field).
        if (e instanceof AuditFilterError) die(`--${e.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${e.message.slice(e.field.length)}`);
        throw e;
      }
      const { config } = loadOrExit();
      const stores = await openStores(config);
      const toFile = o.out !== undefined && o.out !== '-';
      // Not when the rows themselves go to the same terminal: the bar would be drawn into them.
      const showBar = Boolean(o.progress) || (process.stderr.isTTY && (toFile || !process.stdout.isTTY));
      let bar: cliProgress.SingleBar | undefined;
      if (showBar) {
        bar = new cliProgress.SingleBar(
          { stream: process.stderr, format: 'export [{bar}] {percentage}% | {value}/{total} rows | eta {eta_formatted}', noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 1000, etaBuffer: 50 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(await stores.audit.count(filters), 0);
      }
      let rows = 0;
      const src = exportAudit(stores.audit, filters, o.format as ExportFormat, {
        onRows: (n) => {
          rows = n;
          bar?.update(n);
        },
      });
      try {
        if (toFile) await pipeline(src, createWriteStream(o.out!, { mode: 0o600 }));
        else await pipeline(src, process.stdout, { end: false }); // stdout is never ended
      } catch (e) {
        bar?.stop();
        await stores.close();
        die(`export failed: ${(e as Error).message}`);
      }
      bar?.stop();
      await stores.close();
      if (toFile) process.stderr.write(`exported ${rows} row(s) to ${o.out}\n`);
    });
}
