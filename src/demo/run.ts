// `npm run demo`: a self-contained demo on embedded defaults. Starts the Jira-like demo upstream,
// the sidecar (SQLite in ./data-demo) and whatever the demo plugins add (token issuer, admin login),
// prints the URLs and ready-to-paste curl lines, and stops everything cleanly on Ctrl-C.
//
// Ports: the contract's defaults (8080 upstream, 8090 proxy, 8091 admin), each falling back to a free
// port when busy. Overrides for scripts and tests: DEMO_UPSTREAM_PORT, DEMO_PORT, DEMO_ADMIN_PORT,
// DEMO_DATA_DIR; SIDECAR_LOG_LEVEL (default "warn", so the banner stays readable).
// `--cluster` (npm run demo -- --cluster): an embedded PostgreSQL and three replicas on it (cluster.ts).
import net from 'node:net';
import path from 'node:path';
import { startJiraUpstream, type JiraUpstream } from './jira-upstream.js';
import { startSidecar, type RunningSidecar } from '../http/server.js';
import { validate } from '../config/validate.js';
import { createLogger } from '../log.js';
import { demoAuthPlugin } from './auth-plugin.js';
import { demoAdminPlugin } from './admin-plugin.js';
import { startDemoPostgres } from './cluster.js';

export interface DemoUrls {
  upstream: string;
  proxy: string;
  admin: string;
}

/**
 * What a feature contributes to the demo. Plugins start before the sidecar (so their config can
 * point at them) and close after it.
 */
export interface DemoPlugin {
  name: string;
  /** Deep-merged over the demo config before the sidecar starts (e.g. jwt.issuers). */
  config?: Record<string, unknown>;
  /** Environment set before the sidecar starts (e.g. SIDECAR_ADMIN_PASSWORD). */
  env?: Record<string, string>;
  /** Banner lines once everything listens: URLs, logins, `curl` lines. */
  describe?(urls: DemoUrls): string[];
  close?(): Promise<void>;
}

/** databaseUrl: the cluster demo's PostgreSQL (plugins that store something put it there). */
export type DemoPluginFactory = (ctx: { upstream: JiraUpstream; dataDir: string; databaseUrl?: string }) => Promise<DemoPlugin | undefined>;

// ---------------------------------------------------------------------------------------------
// DEMO PLUGINS: one line per feature, in banner order.
// DEMO-AUTH: the demo token issuer (src/demo/token-issuer.ts, JWKS over HTTP) plugs in here. Its
// factory starts the issuer, returns `config: { jwt: { issuers: [...] } }` pointing at its JWKS, and
// `describe()` prints curl lines with a valid user token (alice), a read-only user (bob), a
// service-principal token, a sidecar API token, and one that is refused. The admin UI login
// (SIDECAR_ADMIN_PASSWORD via `env`) plugs in the same way.
export const demoPlugins: DemoPluginFactory[] = [
  demoAuthPlugin, // demo token issuer, JWT / service-principal / API-token / refused curl lines (auth-plugin.ts)
  demoAdminPlugin, // admin UI login (admin-plugin.ts)
];
// ---------------------------------------------------------------------------------------------

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (Array.isArray(over) || typeof over !== 'object' || over === null || typeof base !== 'object' || base === null || Array.isArray(base)) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

/** The preferred port when it is free on 127.0.0.1, else 0 (the OS picks one). */
function preferPort(preferred: number): Promise<number> {
  if (preferred === 0) return Promise.resolve(0);
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(0));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(preferred)));
  });
}

const envPort = (name: string, def: number) => {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : def;
};

/** The demo's embedded config (before plugins): loopback only, data in ./data-demo. */
export function demoConfig(o: { upstreamUrl: string; port: number; adminPort: number; dataDir: string; logLevel: string }): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: o.port, adminHost: '127.0.0.1', adminPort: o.adminPort, dataDir: o.dataDir, shutdownGraceMs: 5000 },
    log: { level: o.logLevel },
    upstream: { url: o.upstreamUrl, timeoutMs: 30000 },
    bypass: ['/rest/api/2/serverInfo'],
  };
}

interface ClusterBanner {
  replicas: Array<{ proxy: string; admin: string }>;
  databaseUrl: string;
}

function banner(urls: DemoUrls, dataDir: string, extra: string[], cluster?: ClusterBanner): string {
  const p = urls.proxy;
  const lines = [
    '',
    `jira-auth-sidecar demo is running${cluster ? ` as a cluster of ${cluster.replicas.length} replicas` : ''}. Ctrl-C stops everything.`,
    '',
    `  Demo Jira (upstream)   ${urls.upstream}`,
    ...(cluster
      ? [
          ...cluster.replicas.map((r, i) => `  Replica ${i + 1}              proxy ${r.proxy}   admin ${r.admin}`),
          `  PostgreSQL             ${cluster.databaseUrl}   (shared by every replica)`,
          '',
          'The cluster: a token made anywhere works everywhere, a revoke is seen everywhere at once.',
          `  export SIDECAR_DATABASE_URL='${cluster.databaseUrl}'`,
          '  TOKEN=$(npx jira-auth-sidecar token create --owner alice --name cluster-demo --groups jira-users --json | node -pe "JSON.parse(fs.readFileSync(0)).token")',
          ...cluster.replicas.map((r) => `  curl -s -H "Authorization: Bearer $TOKEN" ${r.proxy}/rest/api/2/myself`),
          '  npx jira-auth-sidecar token revoke $(npx jira-auth-sidecar token list --json | node -pe "JSON.parse(fs.readFileSync(0)).find((t) => t.name === \'cluster-demo\' && t.status === \'active\').id")',
          `  curl -s -H "Authorization: Bearer $TOKEN" ${cluster.replicas[2]!.proxy}/rest/api/2/myself   # 401 token_revoked`,
          `  npx jira-auth-sidecar audit verify   # one chain per replica`,
          '',
          'Replica 1 is used in the lines below:',
        ]
      : []),
    `  Sidecar proxy          ${p}`,
    `  Admin listener         ${urls.admin}   (/healthz, /readyz, /metrics)`,
    cluster ? `  Store                  PostgreSQL (above)` : `  SQLite data            ${dataDir}`,
    '',
    'Try:',
    '  # a bypassed public endpoint: forwarded without authentication',
    `  curl -i ${p}/rest/api/2/serverInfo`,
    '  # no credential: passed through, Jira itself answers 401',
    `  curl -i ${p}/rest/api/2/myself`,
    '  # a spoofed identity header never reaches Jira (still 401)',
    `  curl -i -H 'X-Forwarded-User: admin' ${p}/rest/api/2/myself`,
    '  # server-sent events stream through unbuffered, one event every 500 ms',
    `  curl -N '${p}/rest/llm/stream?events=5&gapMs=500'`,
    '  # request counts by decision and status',
    `  curl -s ${urls.admin}/metrics | grep sidecar_requests_total`,
    ...extra,
    '',
  ];
  return lines.join('\n');
}

/** Replica i's port: two above the previous one's (8090, 8092, 8094); 0 stays 0 (the OS picks). */
const nth = (base: number, i: number) => (base === 0 ? 0 : base + 2 * i);

/** How many replicas `--cluster` starts, on one PostgreSQL database. */
export const CLUSTER_REPLICAS = 3;

export async function runDemo(opts: { cluster?: boolean } = {}): Promise<{ urls: DemoUrls; replicas: DemoUrls[]; stop(): Promise<void> }> {
  const dataDir = path.resolve(process.env.DEMO_DATA_DIR ?? 'data-demo');
  const logLevel = process.env.SIDECAR_LOG_LEVEL ?? 'warn';

  const upstreamPort = await preferPort(envPort('DEMO_UPSTREAM_PORT', 8080));
  const upstream = await startJiraUpstream({ port: upstreamPort, keepSeen: 100 });
  const closers: Array<() => Promise<void>> = [() => upstream.close()];
  const sidecars: RunningSidecar[] = [];
  const stop = async () => {
    for (const s of sidecars.reverse()) await s.close();
    for (const c of closers.reverse()) await c().catch(() => {});
  };

  try {
    let databaseUrl: string | undefined;
    if (opts.cluster) {
      const pg = await startDemoPostgres();
      databaseUrl = pg.url;
      closers.push(pg.stop);
    }
    const plugins: DemoPlugin[] = [];
    for (const factory of demoPlugins) {
      const p = await factory({ upstream, dataDir, databaseUrl });
      if (!p) continue;
      plugins.push(p);
      if (p.close) closers.push(p.close.bind(p));
    }
    for (const p of plugins) Object.assign(process.env, p.env ?? {});

    // One replica, or CLUSTER_REPLICAS on ports counting up from the first two, one database.
    for (let i = 0; i < (opts.cluster ? CLUSTER_REPLICAS : 1); i++) {
      let doc = demoConfig({
        upstreamUrl: upstream.url,
        port: await preferPort(nth(envPort('DEMO_PORT', 8090), i)),
        adminPort: await preferPort(nth(envPort('DEMO_ADMIN_PORT', 8091), i)),
        dataDir,
        logLevel,
      });
      if (databaseUrl) doc = merge(doc, { server: { replicaName: `demo-${i + 1}` }, store: { kind: 'postgres', url: databaseUrl }, rateLimit: { store: 'postgres' } }) as Record<string, unknown>;
      for (const p of plugins) doc = merge(doc, p.config) as Record<string, unknown>;
      const v = validate(doc);
      if (!v.ok) throw new Error(`demo config invalid:\n${v.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
      sidecars.push(await startSidecar({ config: v.config, raw: doc, logger: createLogger(v.config.log.level) }));
    }

    const replicas = sidecars.map((s) => ({ upstream: upstream.url, proxy: s.proxyUrl, admin: s.adminUrl }));
    const urls = replicas[0]!;
    const extra = plugins.flatMap((p) => p.describe?.(urls) ?? []);
    process.stdout.write(banner(urls, dataDir, extra, databaseUrl ? { replicas, databaseUrl } : undefined));
    return { urls, replicas, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// Run when executed directly (`node dist/demo/run.js`), not when imported by a test.
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  runDemo({ cluster: process.argv.includes('--cluster') }).then(
    ({ stop }) => {
      process.stdout.write('demo ready\n');
      let stopping = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) process.exit(130); // a second Ctrl-C: do not wait any longer
        stopping = true;
        process.stdout.write(`\n${sig}: stopping the demo ...\n`);
        stop().then(
          () => {
            process.stdout.write('demo stopped\n');
            process.exit(0);
          },
          (e) => {
            process.stderr.write(`demo shutdown failed: ${(e as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    },
    (e) => {
      process.stderr.write(`demo failed to start: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
