// Safe rollout on the command line (issue 18):
//   report credentials --since 7d [--json] [--switch ID [--csv]]   who would break, per credential kind and report-mode rule
//   replay --config candidate.yaml --since 7d [--json]           a candidate config over recorded traffic
// Both only read the audit log (safe while the sidecar runs); progress on stderr.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { die, loadOrExit, openStoresOrExit } from './common.js';
import { compilePolicy } from '../config/policy.js';
import { parseDuration } from '../rollout/scan.js';
import { readinessCsv, readinessReport, type ReadinessSwitch } from '../rollout/readiness.js';
import { replayPeriod, type ReplayResult } from '../rollout/what-if.js';

const num = (n: number) => n.toLocaleString('en-US');

function periodOrExit(since: string): { from: number; to: number } {
  const ms = parseDuration(since);
  if (ms === undefined || ms <= 0) die(`--since must be a duration such as 7d, 24h or 90m, not "${since}"`);
  const now = Date.now();
  return { from: now - ms, to: now + 1 };
}

/** A progress bar on stderr while rows are read (when stderr is a terminal, or with --progress). */
function progressBar(label: string, force: boolean) {
  if (!force && !process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {percentage}% | {value}/{total} rows | eta {eta_formatted}`, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 1000, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(read: number, total: number) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.setTotal(total);
      bar.update(read);
    },
    stop: () => started && bar.stop(),
  };
}

function describeSwitch(s: ReadinessSwitch, period: string): string {
  const who = `${num(s.users)} user(s), ${num(s.clients)} integration(s), ${num(s.addresses)} address(es), ${num(s.userAgents)} user agent(s)`;
  const lines = [`${s.title} [${s.id}]`, `  ${s.requests ? `${who} used it in the last ${period}: ${num(s.requests)} request(s) that would be refused with ${s.code}; last ${s.lastSeen}` : `nobody in the last ${period}: safe to switch`}${s.refused ? ` (${num(s.refused)} already refused)` : ''}`];
  if (s.requests) lines.push(`  change: ${s.setting}`);
  const forms = Object.entries(s.forms);
  if (forms.length) lines.push(`  sent as: ${forms.map(([f, n]) => `${f} ${num(n)}`).join(', ')}`);
  for (const [dim, rows] of Object.entries(s.top)) {
    if (!rows.length) continue;
    lines.push(`  ${dim}: ${rows.slice(0, 5).map((r) => `${r.name} (${num(r.requests)})`).join(', ')}${rows.length > 5 ? ', …' : ''}`);
  }
  return lines.join('\n');
}

export function describeReplay(r: ReplayResult, period: string): string {
  const lines = [
    `replayed ${num(r.replayed)} of ${num(r.scanned)} request(s) recorded in the last ${period} (${r.from} to ${r.to})`,
    `  allowed -> denied: ${num(r.allowedToDenied)}${r.allowedToDenied ? ` (${num(r.users)} user(s) changed)` : ''}`,
    `  denied -> allowed: ${num(r.deniedToAllowed)}`,
    `  refused with another code: ${num(r.codeChanged)}`,
    `  unchanged: ${num(r.unchanged)}${r.wouldDeny ? ` (${num(r.wouldDeny)} of them would be refused by a rule in report mode)` : ''}`,
  ];
  if (r.undetermined) lines.push(`  undetermined: ${num(r.undetermined)} (${Object.entries(r.undeterminedBy).map(([why, n]) => `${why}: ${num(n)}`).join('; ')})`);
  const codes = Object.entries(r.byCode);
  if (codes.length) lines.push('by code:', ...codes.map(([c, n]) => `  ${c}: ${num(n.allowedToDenied)} allowed -> denied, ${num(n.deniedToAllowed)} denied -> allowed`));
  for (const [label, top] of [['users', r.byUser], ['clients', r.byClient], ['paths', r.byPath]] as const) {
    if (top.length) lines.push(`top ${label}:`, ...top.slice(0, 10).map((t) => `  ${t.name}: ${num(t.allowedToDenied)} allowed -> denied, ${num(t.deniedToAllowed)} denied -> allowed`));
  }
  if (r.changes.length) lines.push('first changes:', ...r.changes.slice(0, 20).map((c) => `  ${c.time} ${c.method} ${c.path} ${c.user ?? '-'}: ${c.was} -> ${c.now}${c.rule ? ` (${c.rule})` : ''}`));
  lines.push('notes:', ...r.notes.map((n) => `  ${n}`));
  return lines.join('\n');
}

export function registerRolloutCommands(program: Command): void {
  program
    .command('report')
    .description('who would break: usage of each credential kind and each rule in report mode')
    .command('credentials')
    .description('per credential kind (Basic, PATs, OAuth 1.0a, sessions, anonymous) and report-mode rule: who still uses it, from where, on what')
    .option('--since <duration>', 'period ending now: 7d, 24h, 90m', '7d')
    .option('--json', 'the whole report as JSON on stdout')
    .option('--switch <id>', 'only this switch (e.g. credentials:basic, rule:readOnlyGroups:contractors)')
    .option('--csv', 'with --switch: its tables as CSV')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .action(async (o: { since: string; json?: boolean; switch?: string; csv?: boolean; progress?: boolean }) => {
      if (o.csv && !o.switch) die('--csv needs --switch ID (one switch\'s tables)');
      const { from, to } = periodOrExit(o.since);
      const { config } = loadOrExit();
      const { stores } = await openStoresOrExit(config);
      const bar = progressBar('report', Boolean(o.progress));
      try {
        const report = await readinessReport(stores.audit, from, to, { onProgress: bar?.update, ...(o.csv ? { topN: 100_000 } : {}) });
        bar?.stop();
        const switches = o.switch ? report.switches.filter((s) => s.id === o.switch) : report.switches;
        if (o.switch && !switches.length) die(`no switch "${o.switch}" in the last ${o.since}; without --switch the report lists them`);
        if (o.csv) process.stdout.write(readinessCsv(switches[0]!));
        else if (o.json) process.stdout.write(`${JSON.stringify({ ...report, switches }, null, 2)}\n`);
        else {
          process.stdout.write(`${num(report.scanned)} request(s) recorded in the last ${o.since} (${report.from} to ${report.to})\n\n`);
          process.stdout.write(switches.length ? `${switches.map((s) => describeSwitch(s, o.since)).join('\n\n')}\n` : 'no credential kind to turn off and no rule in report mode was used\n');
        }
      } finally {
        await stores.close();
      }
    });

  program
    .command('replay')
    .description('judge the recorded requests of a period with a candidate config: what it would have allowed and refused differently (never calls the IdP or Jira)')
    .requiredOption('--config <file>', 'the candidate config file (YAML or JSON), as serve would read it')
    .option('--since <duration>', 'period ending now: 7d, 24h, 90m', '7d')
    .option('--json', 'the result as JSON on stdout')
    .option('--fail-on-change', 'exit 2 when any request allowed then would be refused')
    .option('--progress', 'show the progress bar even when stderr is not a terminal')
    .action(async (o: { config: string; since: string; json?: boolean; failOnChange?: boolean; progress?: boolean }) => {
      const { from, to } = periodOrExit(o.since);
      const candidate = loadOrExit(o.config).config;
      const { config } = loadOrExit();
      const { stores } = await openStoresOrExit(config);
      const bar = progressBar('replay', Boolean(o.progress));
      try {
        const result = await replayPeriod(stores.audit, compilePolicy(candidate), from, to, { onProgress: bar?.update });
        bar?.stop();
        process.stdout.write(o.json ? `${JSON.stringify(result, null, 2)}\n` : `${describeReplay(result, o.since)}\n`);
        if (o.failOnChange && result.allowedToDenied > 0) process.exitCode = 2;
      } finally {
        await stores.close();
      }
    });
}
