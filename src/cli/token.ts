// `jira-auth-sidecar token create|list|revoke`: our API tokens from the command line, on the same
// database (SIDECAR_DATA_DIR / server.dataDir) and config as `serve`. Safe while the sidecar runs:
// SQLite WAL allows it, and a revocation is seen by the running proxy on its next request.
import { InvalidArgumentError, type Command } from 'commander';
import { systemClock } from '../clock.js';
import type { Config } from '../config/schema.js';
import type { AuditStore } from '../store/audit-store.js';
import { recordAdminAction } from '../audit/record-admin.js';
import { ApiTokens, describeToken, tokenAuditSummary, TokenInputError, type ApiTokenView } from '../api-tokens/api-tokens.js';
import { die, loadOrExit, openStoresOrExit } from './common.js';
import { parseDuration } from '../rollout/scan.js';

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
}

/** "100/60" -> {points: 100, durationSec: 60} */
function rateLimit(v: string): { points: number; durationSec: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new InvalidArgumentError('use POINTS/SECONDS, e.g. 100/60');
  return { points: Number(m[1]), durationSec: Number(m[2]) };
}

async function withStore<T>(configFile: string | undefined, fn: (store: ApiTokens, settings: Config['apiTokens'], audit: AuditStore, config: Config) => Promise<T>): Promise<T> {
  const { config } = loadOrExit(configFile ?? process.env.SIDECAR_CONFIG);
  const { stores } = await openStoresOrExit(config);
  const store = new ApiTokens(stores.tokens);
  try {
    return await fn(store, config.apiTokens, stores.audit, config);
  } finally {
    await store.close();
    await stores.close();
  }
}

const describeScope = (t: ApiTokenView) => `${t.access === 'read' ? 'read-only' : 'read-write'}, ${t.paths.length ? t.paths.join(' ') : 'all paths'}`;

function table(rows: ApiTokenView[]): string {
  const cols: Array<[string, (t: ApiTokenView) => string]> = [
    ['ID', (t) => t.id],
    ['OWNER', (t) => t.owner],
    ['NAME', (t) => t.name],
    ['ACCESS', (t) => (t.access === 'read' ? 'read-only' : 'read-write')],
    ['STATUS', (t) => t.status],
    ['EXPIRES', (t) => t.expiresAt],
    ['LAST USED', (t) => (t.lastUsedAt ? `${t.lastUsedAt} ${t.lastUsedIp ?? ''}`.trim() : '-')],
    ['PATHS', (t) => (t.paths.length ? t.paths.join(',') : '*')],
  ];
  const cells = [cols.map(([h]) => h), ...rows.map((r) => cols.map(([, f]) => f(r).replace(/[\x00-\x1f\x7f]/g, '?')))];
  const widths = cols.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage API tokens (create, list, revoke)');

  token
    .command('create')
    .description('mint an API token; the secret is printed once and only its SHA-256 is stored')
    .requiredOption('--owner <user>', 'Jira username the token acts as')
    .requiredOption('--name <name>', 'what the token is for (shown in lists and the admin UI)')
    .option('--read-only', 'read-only access (as for members of access.readOnlyGroups)')
    .option('--paths <patterns>', 'comma-separated path patterns the token may call ("/rest/api/2/issue/*", "GET /rest/x")', list)
    .option('--days <n>', 'lifetime in days (default and maximum: apiTokens.maxLifetimeDays)', positiveNumber)
    .option('--groups <groups>', "comma-separated groups the token carries (a token has no groups of its own: give the owner's)", list)
    .option('--ip-allowlist <cidrs>', 'comma-separated addresses/CIDRs the token may be used from', list)
    .option('--rate-limit <points/sec>', 'per-token rate limit instead of the global one, e.g. 100/60', rateLimit)
    .option('--json', 'print the result as JSON (the secret is in "token")')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action(
      (o: {
        owner: string;
        name: string;
        readOnly?: boolean;
        paths?: string[];
        days?: number;
        groups?: string[];
        ipAllowlist?: string[];
        rateLimit?: { points: number; durationSec: number };
        json?: boolean;
        config?: string;
      }) =>
        withStore(o.config, async (store, settings, audit, config) => {
          if (!settings.enabled) process.stderr.write('warning: apiTokens.enabled is false; the token is refused until API tokens are enabled\n');
          if (!o.groups?.length && config.access.allowedGroups.length) {
            process.stderr.write(`warning: no --groups; access.allowedGroups (${config.access.allowedGroups.join(', ')}) will refuse this token\n`);
          }
          const active = await store.activeCount(o.owner, settings.maxLifetimeDays);
          if (active >= settings.maxPerUser) die(`${o.owner} already has ${active} active API tokens (apiTokens.maxPerUser is ${settings.maxPerUser}); revoke some first`);
          let created;
          try {
            created = await store.create(
              {
                owner: o.owner,
                name: o.name,
                access: o.readOnly ? 'read' : 'write',
                paths: o.paths,
                groups: o.groups,
                ipAllowlist: o.ipAllowlist,
                rateLimit: o.rateLimit,
                days: o.days,
                createdBy: 'cli',
              },
              settings,
            );
          } catch (e) {
            if (e instanceof TokenInputError) die(`invalid --${e.field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${e.reason}`);
            throw e;
          }
          const view = describeToken(created.record, Date.now(), settings.maxLifetimeDays);
          // The token is only handed out once its creation is on the admin audit chain.
          try {
            await recordAdminAction(audit, systemClock, { actor: 'cli', action: 'token.create', target: view.id, after: tokenAuditSummary(view) });
          } catch (e) {
            await store.revoke(view.id);
            die(`token not created: the admin audit log could not record it (${(e as Error).message})`);
          }
          if (o.json) {
            process.stdout.write(`${JSON.stringify({ ...view, token: created.token })}\n`);
          } else {
            if (created.capped) process.stderr.write(`note: --days capped at apiTokens.maxLifetimeDays (${settings.maxLifetimeDays})\n`);
            process.stdout.write(
              `Created API token ${view.id} "${view.name}" for ${view.owner} (${describeScope(view)}), expires ${view.expiresAt}\n` +
                'Copy the token now; it cannot be shown again:\n' +
                `${created.token}\n`,
            );
          }
        }),
    );

  token
    .command('list')
    .description('list API tokens (never their secrets or hashes)')
    .option('--owner <user>', 'only this owner')
    .option('--json', 'print JSON (one array)')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((o: { owner?: string; json?: boolean; config?: string }) =>
      withStore(o.config, async (store, settings) => {
        const now = Date.now();
        const rows = (await store.list({ owner: o.owner })).map((r) => describeToken(r, now, settings.maxLifetimeDays));
        if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        else process.stdout.write(rows.length ? `${table(rows)}\n` : 'no API tokens\n');
      }),
    );

  token
    .command('rotate')
    .description('a new secret with the same grants and lifetime; the old one keeps working for --overlap, then is refused')
    .argument('<id>', 'token id (tok_…), as shown by `token list`')
    .option('--overlap <duration>', 'how long the old secret keeps working: 0, 90m, 24h, 7d', '0')
    .option('--json', 'print the new token as JSON')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((id: string, o: { overlap: string; json?: boolean; config?: string }) =>
      withStore(o.config, async (store, settings, audit) => {
        const overlapMs = o.overlap === '0' ? 0 : parseDuration(o.overlap);
        if (overlapMs === undefined) die(`--overlap must be a duration such as 0, 90m, 24h or 7d, not "${o.overlap}"`);
        let rotated;
        try {
          rotated = await store.rotate(id, { overlapMs, createdBy: 'cli' }, settings);
        } catch (e) {
          if (e instanceof TokenInputError) die(`--overlap ${e.reason}`);
          throw e;
        }
        if (!rotated) die(`no live token ${id} (revoked and expired tokens cannot be rotated)`);
        await recordAdminAction(audit, systemClock, { actor: 'cli', action: 'token.rotate', target: id, after: { newId: rotated.id, owner: rotated.record.owner, name: rotated.record.name, oldExpires: new Date(rotated.old.expiresAt).toISOString() } });
        const oldUntil = new Date(rotated.old.expiresAt).toISOString();
        if (o.json) process.stdout.write(`${JSON.stringify({ ...describeToken(rotated.record, Date.now(), settings.maxLifetimeDays), token: rotated.token, rotatedFrom: id, oldExpiresAt: oldUntil }, null, 2)}\n`);
        else process.stdout.write(`${rotated.token}\nnew token ${rotated.id} ("${rotated.record.name}", owner ${rotated.record.owner}) expires ${new Date(rotated.record.expiresAt).toISOString()}\nold token ${id} works until ${oldUntil}\n(the secret above is shown once)\n`);
      }),
    );

  token
    .command('revoke')
    .description('revoke an API token; a running sidecar refuses it from the next request on')
    .argument('<id>', 'token id (tok_…), as shown by `token list`')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action((id: string, o: { config?: string }) =>
      withStore(o.config, async (store, _settings, audit) => {
        const before = await store.get(id);
        if (!before) die(`no such token: ${id}`);
        if (before.revokedAt !== undefined) {
          process.stdout.write(`${id} was already revoked at ${new Date(before.revokedAt).toISOString()}\n`);
          return;
        }
        await store.revoke(id);
        await recordAdminAction(audit, systemClock, { actor: 'cli', action: 'token.revoke', target: id, after: { owner: before.owner, name: before.name } });
        process.stdout.write(`revoked ${id} ("${before.name}", owner ${before.owner})\n`);
      }),
    );
}
