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
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
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
  .option('--rounds <n>', 'interleaved rounds (medians reported)', process.env.ROUNDS ?? '3')
  .option('--connections <n>', 'concurrent keep-alive connections', process.env.CONNS ?? '50')
  .option('--scenarios <list>', 'comma-separated subset', 'jwt,api-token,introspection,refused,forged,search,sse')
  .option('--targets <list>', 'comma-separated subset of direct,bare,sidecar', 'direct,bare,sidecar')
  .option('--cpu-prof <dir>', 'run the sidecar under node --cpu-prof, profile written to DIR at the end (read it with test/bench/prof-top.ts)')
  .option('--node-args <args>', 'extra node flags for the sidecar process only (space-separated), e.g. --max-semi-space-size=32')
  .option('--config-patch <json>', 'deep-merged into the sidecar config (experiments: audit or rate limit off, ...)')
  .option('--no-pin', 'do not pin processes to CPUs')
  .parse()
  .opts<{ json?: string; duration: string; warmup: string; rounds: string; connections: string; scenarios: string; targets: string; cpuProf?: string; configPatch?: string; nodeArgs?: string; pin: boolean }>();

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
  target: 'direct' | 'bare' | 'sidecar';
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

async function measure(url: string, pathName: string, headersFor: () => Record<string, string>, seconds: number, pid?: number): Promise<Omit<Result, 'scenario' | 'target'>> {
  const cpu0 = cpuSeconds(pid);
  const inst = autocannon({
    url,
    connections: CONNS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        path: pathName,
        setupRequest: (req) => ({ ...req, headers: { ...req.headers, ...headersFor() } }),
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
  try {
    // Issuer: an RSA key, its JWKS, 1,000 valid tokens and 1,000 signed with another key.
    const issuer = 'https://idp.bench.local/';
    const audience = 'jira-sidecar';
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const wrong = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
    const mint = async (key: Parameters<SignJWT['sign']>[0], i: number) =>
      new SignJWT({ preferred_username: `user${i % 100}`, groups: ['jira-users'], scp: 'access' })
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
    const configFile = path.join(tmp, 'sidecar.json');
    writeFileSync(configFile, JSON.stringify(opts.configPatch ? merge(config, JSON.parse(opts.configPatch)) : config));
    const env = { SIDECAR_CONFIG: configFile, SIDECAR_DATA_DIR: dataDir, SIDECAR_HOST: '127.0.0.1', SIDECAR_PORT: '0', SIDECAR_ADMIN_PORT: '0', SIDECAR_ADMIN_PASSWORD: 'bench-admin-password', SIDECAR_LOG_LEVEL: 'info' };
    let apiToken: string | undefined;
    try {
      const out = execFileSync(process.execPath, ['dist/main.js', 'token', 'create', '--owner', 'bench-user', '--name', 'bench', '--json'], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
      apiToken = (JSON.parse(out) as { token: string }).token;
    } catch (e) {
      log(`api-token scenario skipped: token create failed (${(e as Error).message.split('\n')[0]})`);
    }
    const profArgs = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(opts.cpuProf)] : [];
    const nodeArgs = opts.nodeArgs ? opts.nodeArgs.split(' ').filter(Boolean) : [];
    const sidecar = await startChild('sidecar', [...profArgs, ...nodeArgs, 'dist/main.js', 'serve'], env);

    const targets = {
      direct: upstreamUrl,
      bare: `http://127.0.0.1:${bare.port}`,
      sidecar: `http://127.0.0.1:${sidecar.port}`,
    } as const;
    const unsigned = tokens.map((t) => t.slice(0, t.lastIndexOf('.')));
    const pids = { direct: upstream.child.pid, bare: bare.child.pid, sidecar: sidecar.child.pid };
    let i = 0;
    const rot = (list: string[]) => () => ({ authorization: `Bearer ${list[i++ % list.length]}` });
    const scenarios: Record<string, { path: string; headers: () => Record<string, string>; expectStatus: number }> = {
      jwt: { path: '/rest/api/2/myself', headers: rot(tokens), expectStatus: 200 },
      'api-token': { path: '/rest/api/2/myself', headers: () => ({ authorization: `Bearer ${apiToken}` }), expectStatus: 200 },
      introspection: { path: '/rest/api/2/myself', headers: rot(opaque), expectStatus: 200 },
      refused: { path: '/rest/api/2/myself', headers: rot(badTokens), expectStatus: 401 },
      // A never-seen forgery per request (valid header and claims, random signature): no cache helps.
      forged: { path: '/rest/api/2/myself', headers: () => ({ authorization: `Bearer ${unsigned[i++ % unsigned.length]}.${randomBytes(256).toString('base64url')}` }), expectStatus: 401 },
      search: { path: '/rest/api/2/search?maxResults=60', headers: rot(tokens), expectStatus: 200 },
      sse: { path: '/rest/llm/stream?events=5&gapMs=10', headers: rot(tokens), expectStatus: 200 },
    };
    const wanted = opts.scenarios.split(',').filter((s) => s in scenarios && (s !== 'api-token' || apiToken));

    // Correctness before load: the sidecar must answer each scenario as expected.
    for (const s of wanted) {
      const sc = scenarios[s]!;
      const r = await fetch(targets.sidecar + sc.path, { headers: sc.headers() });
      const body = await r.arrayBuffer();
      log(`check ${s}: sidecar ${r.status} (${body.byteLength} bytes)`);
      if (r.status !== sc.expectStatus) throw new Error(`scenario ${s}: sidecar answered ${r.status}, expected ${sc.expectStatus}`);
    }

    const raw: Result[] = [];
    const order = (['direct', 'bare', 'sidecar'] as const).filter((t) => opts.targets.split(',').includes(t));
    const total = ROUNDS * wanted.length * order.length;
    let n = 0;
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of wanted) {
        const sc = scenarios[s]!;
        const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
        for (const target of rotated) {
          n++;
          if (WARMUP > 0) await measure(targets[target], sc.path, sc.headers, WARMUP);
          const m = await measure(targets[target], sc.path, sc.headers, DURATION, pids[target]);
          raw.push({ scenario: s, target, ...m });
          log(`[${n}/${total}] round ${round + 1} ${s.padEnd(13)} ${target.padEnd(7)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req${m.errors ? `  errors ${m.errors}` : ''}`);
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
    const ratios: Record<string, number> = {};
    for (const s of wanted) {
      const b = results.find((r) => r.scenario === s && r.target === 'bare');
      const sc = results.find((r) => r.scenario === s && r.target === 'sidecar');
      if (b && sc) ratios[s] = Number((sc.rps / b.rps).toFixed(3));
    }
    const machine = { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}`, pinned: PIN, connections: CONNS, durationSec: DURATION, rounds: ROUNDS };

    const lines = [
      `| scenario | target | req/s | p50 ms | p99 ms | sidecar/bare | CPU µs/req | non-2xx |`,
      `|---|---|---:|---:|---:|---:|---:|---:|`,
      ...results.map((r) => `| ${r.scenario} | ${r.target} | ${r.rps} | ${r.p50Ms} | ${r.p99Ms} | ${r.target === 'sidecar' && ratios[r.scenario] !== undefined ? ratios[r.scenario]!.toFixed(2) : ''} | ${r.cpuUsPerReq} | ${r.non2xx} |`),
    ];
    process.stdout.write(`\nMachine: ${machine.cpus} x ${machine.model}, Node ${machine.node}, ${CONNS} connections, ${DURATION}s x ${ROUNDS} rounds (medians)${PIN ? ', pinned' : ''}\n`);
    process.stdout.write(`The sidecar verifies each JWT once and caches the result by SHA-256 of the token until exp; direct/bare do no auth.\n`);
    process.stdout.write(`"refused": 1,000 bad-signature tokens in rotation (a client repeating bad tokens; the sidecar remembers a failed signature for 60 s by hash).\n`);
    process.stdout.write(`"forged": a new forged token on every request (random signature: one RSA verification each). The sidecar answers 401 to both; direct/bare forward them.\n`);
    process.stdout.write(`CPU µs/req: user+system CPU of the proxy process per request (of the upstream for "direct"); steadier than req/s on a shared machine.\n\n${lines.join('\n')}\n`);
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ machine, results: results.map(({ scenario, target, rps, p50Ms, p99Ms }) => ({ scenario, target, rps, p50Ms, p99Ms })), ratios, raw }, null, 2));
      log(`wrote ${opts.json}`);
    }
    if (opts.cpuProf || opts.nodeArgs?.includes('-prof')) log('profiles are written as the sidecar stops');
    idp.close();
  } finally {
    await stopChildren();
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
