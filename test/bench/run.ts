// `npm run bench`: one run, on loopback, of a Jira-like upstream behind {nothing (direct), a bare
// Node passthrough, the sidecar with JWT + rate limit + audit on}, interleaved and repeated,
// medians reported. Scenarios: jwt (1,000 distinct tokens rotated), api-token, introspection
// (cached), refused (1,000 bad-signature tokens rotated), forged (a new forgery per request: the cost
// of a refusal under attack), search (20 KB bodies), sse. CPU µs/req of each server process is
// read from /proc: steadier than req/s when other work shares the machine.
// Load generator (autocannon, this process) is pinned to CPU 1, servers to CPU 0 (taskset), so
// throughput = 1 / (proxy + upstream cost) as in ../shared/bench-peers.
//   npm run bench -- [--json FILE] [--duration S] [--rounds N] [--connections C] [--scenarios a,b]
//                    [--targets direct,bare,sidecar] [--cpu-prof DIR] [--node-args ARGS] [--config-patch JSON]
//                    [--variant NAME=JSON ...]   (more sidecars, each with a config patch, measured interleaved)
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Command } from 'commander';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const opts = new Command()
  .option('--json <file>', 'write results as JSON (contract section 7)')
  .option('--duration <s>', 'seconds measured per target per round', process.env.DURATION ?? '5')
  .option('--warmup <s>', 'seconds of warm-up per measurement (discarded)', process.env.WARMUP ?? '1')
  .option('--start-warmup <s>', 'seconds of load on each target before the first round (JIT warm-up, discarded)', '5')
  .option('--rounds <n>', 'interleaved rounds (medians reported)', process.env.ROUNDS ?? '3')
  .option('--connections <n>', 'concurrent keep-alive connections', process.env.CONNS ?? '50')
  .option('--scenarios <list>', 'comma-separated subset', 'jwt,issues,api-token,introspection,refused,forged,search,sse')
  .option('--targets <list>', 'comma-separated subset of direct,bare,sidecar', 'direct,bare,sidecar')
  .option('--cpu-prof <dir>', 'run the sidecar under node --cpu-prof, profile written to DIR at the end (read it with test/bench/prof-top.ts)')
  .option('--node-args <args>', 'extra node flags for the sidecar process only (space-separated), e.g. --max-semi-space-size=32')
  .option('--config-patch <json>', 'deep-merged into the sidecar config (experiments: audit or rate limit off, ...)')
  .option('--variant <name=json>', 'another sidecar with this config patch, measured interleaved with the others as target "sidecar:NAME" (repeatable): A/B of a setting in one run; a "$nodeArgs" string in the patch gives that sidecar node flags, a "$env" object environment variables, a "$main" path another build (e.g. a git worktree\'s dist/main.js)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--child-logs <dir>', "copy each server's stdout and stderr to DIR/NAME.log (e.g. with --node-args --trace-gc)")
  .option('--no-pin', 'do not pin processes to CPUs')
  .option('--cold-start <n>', 'then restart the sidecar n times: time until /readyz answers 200, and the first second of jwt load right after it (rolling restarts)')
  .option('--postgres', 'also measure a sidecar whose store is PostgreSQL (an embedded server started here): target "sidecar:postgres"')
  .parse()
  .opts<{ json?: string; duration: string; warmup: string; startWarmup: string; rounds: string; connections: string; scenarios: string; targets: string; cpuProf?: string; configPatch?: string; nodeArgs?: string; variant: string[]; childLogs?: string; pin: boolean; postgres?: boolean; coldStart?: string }>();

/** --variant NAME=JSON -> [name, patch]; bad input stops the run before anything starts. */
const variants = opts.variant.map((v): [string, unknown] => {
  const eq = v.indexOf('=');
  const name = v.slice(0, eq);
  if (eq < 1 || !/^[\w.-]+$/.test(name)) throw new Error(`--variant ${JSON.stringify(v)}: expected NAME=JSON with NAME of letters, digits, . _ -`);
  try {
    return [name, JSON.parse(v.slice(eq + 1))];
  } catch (e) {
    throw new Error(`--variant ${name}: the patch is not JSON (${(e as Error).message})`);
  }
});

const DURATION = Number(opts.duration);
const WARMUP = Number(opts.warmup);
const ROUNDS = Number(opts.rounds);
const CONNS = Number(opts.connections);
const PIN = opts.pin && os.cpus().length >= 2 && existsSync('/usr/bin/taskset');
const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

const children: ChildProcess[] = [];
const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
/** Last resort (process.exit): whatever is still running is killed outright. */
function cleanup() {
  for (const c of children) if (running(c)) c.kill('SIGKILL');
}
/**
 * SIGTERM and wait (SIGKILL after 5 s) while this process still holds the children's stdout: a
 * child that logs its shutdown into a pipe whose reader has gone never finishes shutting down.
 */
async function stopChildren(): Promise<void> {
  await Promise.all(
    children.filter(running).map(
      (c) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => c.kill('SIGKILL'), 5000);
          c.once('exit', () => (clearTimeout(t), resolve()));
          c.kill('SIGTERM');
        }),
    ),
  );
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** Spawn a server pinned to CPU 0; resolves with the port it printed (JSON line or sidecar log). */
function startChild(name: string, args: string[], env: Record<string, string> = {}): Promise<{ port: number; child: ChildProcess }> {
  const cmd = PIN ? '/usr/bin/taskset' : process.execPath;
  const argv = PIN ? ['-c', '0', process.execPath, ...args] : args;
  const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  if (opts.childLogs) {
    mkdirSync(opts.childLogs, { recursive: true });
    const file = createWriteStream(path.join(opts.childLogs, `${name.replace(/[^\w.-]/g, '-')}.log`));
    child.stdout!.on('data', (c) => file.write(c));
    child.stderr!.on('data', (c) => file.write(c));
    child.once('exit', () => file.end());
  }
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 30_000);
    child.stderr!.on('data', (c) => (out += c));
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const j = JSON.parse(line) as { ready?: boolean; port?: number; proxy?: string; msg?: string };
          if (j.ready && j.port) return (clearTimeout(t), resolve({ port: j.port, child }));
          if (j.msg === 'sidecar listening' && j.proxy) return (clearTimeout(t), resolve({ port: Number(new URL(j.proxy).port), child }));
        } catch {
          /* partial line */
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${out}`)));
  });
}

function listen(server: http.Server): Promise<number> {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r((server.address() as AddressInfo).port)));
}

interface Result {
  scenario: string;
  /** direct | bare | sidecar | sidecar:NAME (a --variant) */
  target: string;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU time (user + system) the proxy process (the upstream for "direct") spent per request, µs. */
  cpuUsPerReq: number;
}

/** utime + stime of a process in seconds (Linux /proc; 0 elsewhere). Less noisy than req/s on a shared machine. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

async function measure(url: string, sc: { path: string; nextPath?: () => string }, headersFor: () => Record<string, string>, seconds: number, pid?: number): Promise<Omit<Result, 'scenario' | 'target'>> {
  const cpu0 = cpuSeconds(pid);
  const inst = autocannon({
    url,
    connections: CONNS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path: sc.path,
        setupRequest: (req) => ({ ...req, ...(sc.nextPath ? { path: sc.nextPath() } : {}), headers: { ...req.headers, ...headersFor() } }),
      },
    ],
  });
  const r = await inst;
  const cpuUsPerReq = r.requests.total ? Math.round(((cpuSeconds(pid) - cpu0) * 1e6) / r.requests.total) : 0;
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, cpuUsPerReq };
}

/** Deep merge for --config-patch (objects merge, arrays and scalars replace). */
function merge(base: unknown, over: unknown): unknown {
  if (Array.isArray(over) || typeof over !== 'object' || over === null) return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main() {
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('run `npm run build` first (npm run bench does)');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sidecar-bench-'));
  let stopPostgres: (() => Promise<void>) | undefined;
  try {
    // Issuer: an RSA key, its JWKS, 1,000 valid tokens and 1,000 signed with another key.
    const issuer = 'https://idp.bench.local/';
    const audience = 'jira-sidecar';
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const wrong = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
    // 1,000 distinct users (as ../shared/bench-peers): the rate limiter and the audit log's per-user
    // index see the spread of a real instance, not a handful of hot keys.
    const mint = async (key: Parameters<SignJWT['sign']>[0], i: number) =>
      new SignJWT({ preferred_username: `user${i}`, groups: ['jira-users'], scp: 'access' })
        .setProtectedHeader({ alg: 'RS256', kid: 'bench-1' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(`sub-${i}`)
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(key);
    const tokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => mint(privateKey, i)));
    const badTokens = await Promise.all(Array.from({ length: 1000 }, (_, i) => mint(wrong.privateKey, i)));
    const opaque = Array.from({ length: 1000 }, () => randomBytes(24).toString('hex'));

    const idp = http.createServer((req, res) => {
      if (req.url === '/jwks.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify({ keys: [jwk] }));
      }
      if (req.url === '/introspect' && req.method === 'POST') {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ active: true, username: 'introspected', groups: ['jira-users'], exp: Math.floor(Date.now() / 1000) + 3600, client_id: 'bench' }));
        });
        return;
      }
      res.writeHead(404).end();
    });
    const idpPort = await listen(idp);

    log(`starting upstream, bare proxy and sidecar${PIN ? ' (servers pinned to CPU 0, load generator to CPU 1)' : ''}`);
    if (PIN) execFileSync('/usr/bin/taskset', ['-pc', '1', String(process.pid)], { stdio: 'ignore' });
    const upstream = await startChild('upstream', ['--import', 'tsx', 'test/bench/upstream.ts']);
    const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
    const bare = await startChild('bare', ['--import', 'tsx', 'test/bench/bare-proxy.ts'], { UPSTREAM: upstreamUrl });
    const dataDir = path.join(tmp, 'data');
    const config = {
      upstream: { url: upstreamUrl, identityHeader: 'X-Forwarded-User' },
      log: { level: 'warn' },
      credentials: { basic: 'deny', anonymous: 'deny' },
      jwt: { issuers: [{ name: 'bench', issuer, audiences: [audience], keys: { jwksUri: `http://127.0.0.1:${idpPort}/jwks.json` }, algorithms: ['RS256'], usernameClaim: 'preferred_username', groupsClaim: 'groups' }] },
      introspection: { enabled: true, endpoint: `http://127.0.0.1:${idpPort}/introspect`, clientId: 'sidecar', clientSecret: 'bench-secret', cacheSec: 300 },
      rateLimit: { enabled: true, points: 1_000_000_000, durationSec: 60, store: 'memory' },
      audit: { enabled: true, retentionDays: 1, maxEntries: 100_000_000, queueMax: 1_000_000 },
      apiTokens: { enabled: true },
    };
    const base = opts.configPatch ? merge(config, JSON.parse(opts.configPatch)) : config;
    // The sidecar runs with the node flags `npm start` uses (the product as shipped), read from package.json.
    const startScript = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.start ?? '';
    const startFlags = /^node\s+((?:--\S+\s+)*)dist\/main\.js/.exec(startScript)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    log(`sidecar node flags from npm start: ${startFlags.join(' ') || '(none)'}`);
    const profArgs = [...startFlags, ...(opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(opts.cpuProf)] : [])];
    const nodeArgs = opts.nodeArgs ? opts.nodeArgs.split(' ').filter(Boolean) : [];
    /** One sidecar process with its own config file and data dir (and its own API token in it). */
    const startSidecarTarget = async (name: string, cfg: unknown, extraNodeArgs: string[] = [], extraEnv: Record<string, string> = {}, main = 'dist/main.js') => {
      const configFile = path.join(tmp, `${name.replace(':', '-')}.json`);
      writeFileSync(configFile, JSON.stringify(cfg));
      const env = { SIDECAR_CONFIG: configFile, SIDECAR_DATA_DIR: path.join(dataDir, name.replace(':', '-')), SIDECAR_HOST: '127.0.0.1', SIDECAR_PORT: '0', SIDECAR_ADMIN_PORT: '0', SIDECAR_ADMIN_PASSWORD: 'bench-admin-password', SIDECAR_LOG_LEVEL: 'info', ...extraEnv };
      let apiToken: string | undefined;
      try {
        const out = execFileSync(process.execPath, [main, 'token', 'create', '--owner', 'bench-user', '--name', 'bench', '--json'], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
        apiToken = (JSON.parse(out) as { token: string }).token;
      } catch (e) {
        log(`${name}: api-token scenario skipped: token create failed (${(e as Error).message.split('\n')[0]})`);
      }
      const started = await startChild(name, [...profArgs, ...nodeArgs, ...extraNodeArgs, main, 'serve'], env);
      return { name, url: `http://127.0.0.1:${started.port}`, pid: started.child.pid, apiToken };
    };
    const sidecars = [await startSidecarTarget('sidecar', base)];
    // --postgres: the same sidecar with its store in PostgreSQL (API-token lookups, audit writes, last-use stamps).
    if (opts.postgres) {
      const { startDemoPostgres } = await import('../../src/demo/cluster.js');
      const pg = await startDemoPostgres();
      stopPostgres = pg.stop;
      log('embedded PostgreSQL started for sidecar:postgres');
      variants.push(['postgres', { $env: { SIDECAR_DATABASE_URL: pg.url } }]);
    }
    // A variant's "$nodeArgs" (string) are node flags, "$env" (object) environment variables and
    // "$main" another build's entry point (an A/B of two commits) for that sidecar only, not config.
    for (const [name, patch] of variants) {
      const { $nodeArgs, $env, $main, ...cfgPatch } = patch as { $nodeArgs?: string; $env?: Record<string, string>; $main?: string };
      const main = $main ? path.resolve($main) : undefined;
      sidecars.push(await startSidecarTarget(`sidecar:${name}`, merge(base, cfgPatch), ($nodeArgs ?? '').split(' ').filter(Boolean), $env ?? {}, main));
    }

    const targets: Record<string, string> = { direct: upstreamUrl, bare: `http://127.0.0.1:${bare.port}` };
    const pids: Record<string, number | undefined> = { direct: upstream.child.pid, bare: bare.child.pid };
    const apiTokens: Record<string, string | undefined> = {};
    for (const sc of sidecars) (targets[sc.name] = sc.url), (pids[sc.name] = sc.pid), (apiTokens[sc.name] = sc.apiToken);
    const apiToken = sidecars.every((sc) => sc.apiToken) ? sidecars[0]!.apiToken : undefined;
    const unsigned = tokens.map((t) => t.slice(0, t.lastIndexOf('.')));
    let i = 0;
    const rot = (list: string[]) => () => ({ authorization: `Bearer ${list[i++ % list.length]}` });
    // Real traffic reads many issues: 20,000 keys visited in a scattered order (what the audit log's path index sees).
    let k = 0;
    const issuePath = () => `/rest/api/2/issue/PROJ-${((k++ * 7919) % 20_000) + 1}`;
    // headers(target): the API token lives in each sidecar's own data dir (direct/bare get the first one's).
    const scenarios: Record<string, { path: string; nextPath?: () => string; headers: (target: string) => Record<string, string>; expectStatus: number }> = {
      jwt: { path: '/rest/api/2/myself', headers: rot(tokens), expectStatus: 200 },
      issues: { path: '/rest/api/2/issue/PROJ-1', nextPath: issuePath, headers: rot(tokens), expectStatus: 200 },
      'api-token': { path: '/rest/api/2/myself', headers: (target) => ({ authorization: `Bearer ${apiTokens[target] ?? apiToken}` }), expectStatus: 200 },
      introspection: { path: '/rest/api/2/myself', headers: rot(opaque), expectStatus: 200 },
      refused: { path: '/rest/api/2/myself', headers: rot(badTokens), expectStatus: 401 },
      // A never-seen forgery per request (valid header and claims, random signature): no cache helps.
      forged: { path: '/rest/api/2/myself', headers: () => ({ authorization: `Bearer ${unsigned[i++ % unsigned.length]}.${randomBytes(256).toString('base64url')}` }), expectStatus: 401 },
      search: { path: '/rest/api/2/search?maxResults=60', headers: rot(tokens), expectStatus: 200 },
      sse: { path: '/rest/llm/stream?events=5&gapMs=10', headers: rot(tokens), expectStatus: 200 },
    };
    const wanted = opts.scenarios.split(',').filter((s) => s in scenarios && (s !== 'api-token' || apiToken));

    // Correctness before load: every sidecar must answer each scenario as expected.
    for (const s of wanted)
      for (const { name } of sidecars) {
        const sc = scenarios[s]!;
        const r = await fetch(targets[name] + sc.path, { headers: sc.headers(name) });
        const body = await r.arrayBuffer();
        log(`check ${s}: ${name} ${r.status} (${body.byteLength} bytes)`);
        if (r.status !== sc.expectStatus) throw new Error(`scenario ${s}: ${name} answered ${r.status}, expected ${sc.expectStatus}`);
      }

    const raw: Result[] = [];
    const chosen = opts.targets.split(',');
    // --targets sidecar takes the variants too.
    const order = Object.keys(targets).filter((t) => chosen.includes(t) || (t.startsWith('sidecar:') && chosen.includes('sidecar')));
    const total = ROUNDS * wanted.length * order.length;
    // A fresh process runs its first seconds of load well below full speed (V8 compiles the hot path
    // meanwhile: about 4 s for the sidecar); without this the first target measured pays for it.
    const startWarmup = Number(opts.startWarmup);
    if (startWarmup > 0 && wanted.length) {
      const first = scenarios[wanted[0]!]!;
      log(`start warm-up: ${startWarmup} s of ${wanted[0]} on each target`);
      for (const target of order) await measure(targets[target]!, first, () => first.headers(target), startWarmup);
    }
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of wanted) {
        const sc = scenarios[s]!;
        const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
        for (const target of rotated) {
          n++;
          const headers = () => sc.headers(target);
          if (WARMUP > 0) await measure(targets[target]!, sc, headers, WARMUP);
          const m = await measure(targets[target]!, sc, headers, DURATION, pids[target]);
          raw.push({ scenario: s, target, ...m });
          log(`[${n}/${total}] round ${round + 1} ${s.padEnd(13)} ${target.padEnd(9)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req${m.errors ? `  errors ${m.errors}` : ''}`);
        }
      }
    }

    const results: Result[] = [];
    for (const s of wanted)
      for (const target of order) {
        const rs = raw.filter((r) => r.scenario === s && r.target === target);
        results.push({
          scenario: s,
          target,
          rps: Math.round(median(rs.map((r) => r.rps))),
          p50Ms: median(rs.map((r) => r.p50Ms)),
          p99Ms: median(rs.map((r) => r.p99Ms)),
          errors: rs.reduce((a, r) => a + r.errors, 0),
          non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
          cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
        });
      }
    // ratios[scenario] is the sidecar's (the contract's shape); a variant's is under "scenario sidecar:NAME".
    const ratios: Record<string, number> = {};
    for (const s of wanted) {
      const b = results.find((r) => r.scenario === s && r.target === 'bare');
      for (const sc of results.filter((r) => r.scenario === s && r.target.startsWith('sidecar')))
        if (b) ratios[sc.target === 'sidecar' ? s : `${s} ${sc.target}`] = Number((sc.rps / b.rps).toFixed(3));
    }
    const ratioOf = (r: Result) => ratios[r.target === 'sidecar' ? r.scenario : `${r.scenario} ${r.target}`];
    const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, pinned: PIN, connections: CONNS, durationSec: DURATION, rounds: ROUNDS };

    const lines = [
      `| scenario | target | req/s | p50 ms | p99 ms | sidecar/bare | CPU µs/req | non-2xx |`,
      `|---|---|---:|---:|---:|---:|---:|---:|`,
      ...results.map((r) => `| ${r.scenario} | ${r.target} | ${r.rps} | ${r.p50Ms} | ${r.p99Ms} | ${ratioOf(r)?.toFixed(2) ?? ''} | ${r.cpuUsPerReq} | ${r.non2xx} |`),
    ];
    process.stdout.write(`\nMachine: ${machine.cpus} x ${machine.model}, Node ${machine.node}, ${CONNS} connections, ${DURATION}s x ${ROUNDS} rounds (medians)${PIN ? ', pinned' : ''}\n`);
    process.stdout.write(`The sidecar verifies each JWT once and caches the result by SHA-256 of the token until exp; direct/bare do no auth.\n`);
    process.stdout.write(`"refused": 1,000 bad-signature tokens in rotation (a client repeating bad tokens; the sidecar remembers a failed signature for 60 s by hash).\n`);
    process.stdout.write(`"forged": a new forged token on every request (random signature: one RSA verification each). The sidecar answers 401 to both; direct/bare forward them.\n`);
    process.stdout.write(`CPU µs/req: user+system CPU of the proxy process per request (of the upstream for "direct"); steadier than req/s on a shared machine.\n\n${lines.join('\n')}\n`);
    // --cold-start: what a load balancer sends a replica the moment its /readyz says 200.
    if (opts.coldStart) {
      const rows: string[] = [];
      for (let round = 1; round <= Number(opts.coldStart); round++) {
        const env = { SIDECAR_CONFIG: path.join(tmp, 'sidecar.json'), SIDECAR_DATA_DIR: path.join(dataDir, 'sidecar'), SIDECAR_HOST: '127.0.0.1', SIDECAR_PORT: '0', SIDECAR_ADMIN_PORT: '0', SIDECAR_ADMIN_PASSWORD: 'bench-admin-password', SIDECAR_LOG_LEVEL: 'info' };
        const t0 = performance.now();
        const cmd = PIN ? '/usr/bin/taskset' : process.execPath;
        const argv = [...(PIN ? ['-c', '0', process.execPath] : []), ...startFlags, 'dist/main.js', 'serve'];
        const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
        children.push(child);
        const urls = await new Promise<{ proxy: string; admin: string }>((resolve, reject) => {
          let out = '';
          child.once('exit', (code) => reject(new Error(`cold start: sidecar exited ${code}: ${out}`)));
          child.stdout!.on('data', (c: Buffer) => {
            out += c;
            const line = out.split('\n').find((l) => l.includes('"sidecar listening"'));
            if (line) resolve(JSON.parse(line) as { proxy: string; admin: string });
          });
        });
        while ((await fetch(`${urls.admin}/readyz`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 10));
        const readyMs = Math.round(performance.now() - t0);
        const m = await measure(urls.proxy, scenarios.jwt!, rot(tokens), 1, child.pid);
        rows.push(`| ${round} | ${readyMs} | ${Math.round(m.rps)} | ${m.p50Ms} | ${m.p99Ms} | ${m.errors + m.non2xx} |`);
        log(`cold start ${round}: ready after ${readyMs} ms; first second ${Math.round(m.rps)} req, p50 ${m.p50Ms} ms, p99 ${m.p99Ms} ms`);
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      process.stdout.write(`\nCold start (restart, wait for /readyz 200, then 1 s of jwt at ${CONNS} connections):\n\n| round | ready after ms | requests in the first second | p50 ms | p99 ms | errors |\n|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n`);
    }
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ machine, results: results.map(({ scenario, target, rps, p50Ms, p99Ms }) => ({ scenario, target, rps, p50Ms, p99Ms })), ratios, raw }, null, 2));
      log(`wrote ${opts.json}`);
    }
    if (opts.cpuProf || opts.nodeArgs?.includes('-prof')) log('profiles are written as the sidecar stops');
    idp.close();
  } finally {
    await stopChildren();
    await stopPostgres?.();
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    log(`failed: ${(e as Error).stack}`);
    process.exit(1);
  },
);
