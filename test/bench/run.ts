// `npm run bench`: one run, on loopback, of a Jira-like upstream behind {nothing (direct), a bare
// Node passthrough, the sidecar with JWT + rate limit + audit on}, interleaved and repeated,
// medians reported. Scenarios: jwt (1,000 distinct tokens rotated), api-token, introspection
// (cached), refused (1,000 bad-signature tokens rotated), forged (a new forgery per request: the cost
// of a refusal under attack), fresh (a never-seen valid token per request, signed ahead of time: the
// cost of an allow no cache helps), search (20 KB bodies), sse. CPU µs/req of each server process is
// read from /proc: steadier than req/s when other work shares the machine.
// Load generator (autocannon, this process) is pinned to CPU 1, servers to CPU 0 (taskset), so
// throughput = 1 / (proxy + upstream cost) as in ../shared/bench-peers.
//   npm run bench -- [--json FILE] [--duration S] [--rounds N] [--connections C] [--scenarios a,b]
//                    [--targets direct,bare,sidecar] [--cpu-prof DIR] [--node-args ARGS] [--config-patch JSON]
//                    [--variant NAME=JSON ...]   (more sidecars, each with a config patch, measured interleaved)
//                    [--tokens N] [--fresh-tokens N] [--rss S] [--cold-start N [--cold-duration S]]
//                    [--threads] [--syscalls]   (CPU per request by thread; system calls per request, with perf)
// Cold start (issue 25): `npm run bench -- --scenarios jwt --targets sidecar --rounds 0 --cold-start 5`
// restarts every sidecar target N times (interleaved), sends jwt load the moment /readyz answers 200
// and compares the p99 of the first second with the steady-state p99 of the same run, and which
// threads the first second's CPU went to.
// Memory (issue 25): `npm run bench -- --scenarios jwt --targets sidecar --tokens 100000 --rounds 1
// --duration 600 --warmup 0 --start-warmup 0 --rss 30` prints each sidecar's RSS every 30 s.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { exportJWK } from 'jose';
import { Command } from 'commander';
import { cpuSeconds, threadCpuDelta, threadCpuSeconds } from './proc.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const opts = new Command()
  .option('--json <file>', 'write results as JSON (contract section 7)')
  .option('--duration <s>', 'seconds measured per target per round', process.env.DURATION ?? '5')
  .option('--warmup <s>', 'seconds of warm-up per measurement (discarded)', process.env.WARMUP ?? '1')
  .option('--start-warmup <s>', 'seconds of load on each target before the first round (JIT warm-up, discarded)', '5')
  .option('--rounds <n>', 'interleaved rounds (medians reported)', process.env.ROUNDS ?? '3')
  .option('--connections <n>', 'concurrent keep-alive connections', process.env.CONNS ?? '50')
  .option('--scenarios <list>', 'comma-separated subset', 'jwt,issues,api-token,introspection,refused,forged,fresh,search,sse')
  .option('--targets <list>', 'comma-separated subset of direct,bare,lean,sidecar (lean: the undici passthrough, no auth)', 'direct,bare,lean,sidecar')
  .option('--cpu-prof <dir>', 'run the sidecar under node --cpu-prof, profile written to DIR at the end (read it with test/bench/prof-top.ts)')
  .option('--node-args <args>', 'extra node flags for the sidecar process only (space-separated), e.g. --max-semi-space-size=32')
  .option('--config-patch <json>', 'deep-merged into the sidecar config (experiments: audit or rate limit off, ...)')
  .option('--variant <name=json>', 'another sidecar with this config patch, measured interleaved with the others as target "sidecar:NAME" (repeatable): A/B of a setting in one run; a "$nodeArgs" string in the patch gives that sidecar node flags, a "$env" object environment variables, a "$main" path another build (e.g. a git worktree\'s dist/main.js)', (v: string, acc: string[]) => [...acc, v], [] as string[])
  .option('--child-logs <dir>', "copy each server's stdout and stderr to DIR/NAME.log (e.g. with --node-args --trace-gc)")
  .option('--no-pin', 'do not pin processes to CPUs')
  .option('--cold-start <n>', 'then restart each sidecar target n times (interleaved): jwt load starts the moment /readyz answers 200; p99 of the first second against the steady-state p99 (from --cold-steady-from s on) of the same run, medians over the restarts')
  .option('--cold-duration <s>', 'seconds of load after each restart', '8')
  .option('--cold-scenario <name>', 'with --cold-start: the load after each restart, jwt (the --tokens JWTs), introspection (1,000 opaque tokens asked about at the bench\'s introspection endpoint) or api-token (each target\'s own API token, read from the store on every request)', 'jwt')
  .option('--idp-delay <ms>', 'the bench\'s introspection endpoint answers after this many ms (an identity provider across a network rather than on loopback)', '0')
  .option('--cold-control', 'with --cold-start: after each restart\'s run, the same load once more on the warm process from new connections (what the measuring method alone shows)')
  .option('--cold-steady-from <s>', 'steady state: requests sent from this second of the load on', '3')
  .option('--tokens <n>', 'distinct valid tokens (of as many users) rotated by jwt, issues, search and sse', '1000')
  .option('--fresh-tokens <n>', 'valid tokens signed ahead for "fresh" (each used once per sidecar process; default: enough for ~4,000 req/s)')
  .option('--rss <s>', "print each sidecar's resident memory (and heap) every S seconds while load runs")
  .option('--syscalls', "count each target's system calls and context switches during the measured window (perf stat, every thread) and print them per request")
  .option('--threads', "print each target's CPU per request by thread during the measured window (main thread, then the others by CPU: the audit writer, V8's compiler and GC helpers)")
  .option('--postgres', 'also measure a sidecar whose store is PostgreSQL (an embedded server started here): target "sidecar:postgres"')
  .parse()
  .opts<{ json?: string; duration: string; warmup: string; startWarmup: string; rounds: string; connections: string; scenarios: string; targets: string; cpuProf?: string; configPatch?: string; nodeArgs?: string; variant: string[]; childLogs?: string; pin: boolean; postgres?: boolean; syscalls?: boolean; threads?: boolean; coldStart?: string; coldControl?: boolean; coldDuration: string; coldScenario: string; idpDelay: string; coldSteadyFrom: string; tokens: string; freshTokens?: string; rss?: string }>();

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

const startsOf = new Map<string, number>();

/** Spawn a server pinned to CPU 0; resolves with the port it printed (JSON line or sidecar log). */
function startChild(name: string, args: string[], env: Record<string, string> = {}): Promise<{ port: number; child: ChildProcess; admin?: string; output: () => string }> {
  const cmd = PIN ? '/usr/bin/taskset' : process.execPath;
  const argv = PIN ? ['-c', '0', process.execPath, ...args] : args;
  const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  if (opts.childLogs) {
    mkdirSync(opts.childLogs, { recursive: true });
    // One file per start: a restart (--cold-start) writes name.2.log, name.3.log … beside the first.
    const starts = (startsOf.get(name) ?? 0) + 1;
    startsOf.set(name, starts);
    const file = createWriteStream(path.join(opts.childLogs, `${name.replace(/[^\w.-]/g, '-')}${starts > 1 ? `.${starts}` : ''}.log`));
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
          const j = JSON.parse(line) as { ready?: boolean; port?: number; proxy?: string; admin?: string; msg?: string };
          if (j.ready && j.port) return (clearTimeout(t), resolve({ port: j.port, child, output: () => out }));
          if (j.msg === 'sidecar listening' && j.proxy) return (clearTimeout(t), resolve({ port: Number(new URL(j.proxy).port), child, admin: j.admin, output: () => out }));
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
  /**
   * cpuUsPerReq over the upstream's CPU per request in the same window (as ../shared/bench-peers'
   * "CPU ÷ upstream's"): the upstream does the same work behind every target, so the machine's speed
   * of the moment cancels out. 1 for "direct".
   */
  perUpstream: number;
}

/** Resident set size of a process in MB (Linux /proc; NaN elsewhere). */
function rssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The sidecar's own V8 heap (used / total) in MB, from its /metrics. */
async function heapMb(adminUrl: string | undefined): Promise<{ used: number; total: number } | undefined> {
  if (!adminUrl) return undefined;
  try {
    const text = await (await fetch(`${adminUrl}/metrics`)).text();
    const get = (name: string) => Number(new RegExp(`^sidecar_${name} (\\S+)`, 'm').exec(text)?.[1]) / 2 ** 20;
    return { used: get('nodejs_heap_size_used_bytes'), total: get('nodejs_heap_size_total_bytes') };
  } catch {
    return undefined;
  }
}

/** --rss: one line per sample while load runs; returns the samples when stopped. */
function sampleRss(target: string, pid: number | undefined, adminUrl: string | undefined, everySec: number): () => Promise<Array<{ sec: number; rss: number; heapUsed?: number }>> {
  const t0 = performance.now();
  const samples: Array<{ sec: number; rss: number; heapUsed?: number }> = [];
  const take = async () => {
    const sec = Math.round((performance.now() - t0) / 1000);
    const rss = rssMb(pid);
    const heap = await heapMb(adminUrl);
    samples.push({ sec, rss, heapUsed: heap?.used });
    log(`rss ${target} t=${sec}s: ${rss.toFixed(1)} MB${heap ? ` (V8 heap used ${heap.used.toFixed(1)} of ${heap.total.toFixed(1)} MB)` : ''}`);
  };
  void take();
  const timer = setInterval(() => void take(), everySec * 1000);
  return async () => {
    clearInterval(timer);
    await take();
    return samples;
  };
}

async function measure(url: string, sc: { path: string; nextPath?: () => string }, headersFor: () => Record<string, string>, seconds: number, pid?: number, onResponse?: (latencyMs: number) => void, upstreamPid?: number): Promise<Omit<Result, 'scenario' | 'target'>> {
  const cpu0 = cpuSeconds(pid);
  const up0 = cpuSeconds(upstreamPid);
  const syscalls = opts.syscalls && pid ? countSyscalls(pid) : undefined;
  const threads0 = opts.threads && pid ? threadCpuSeconds(pid) : undefined;
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
  // Without a callback autocannon returns its tracker (an EventEmitter) made thenable; the types say Promise.
  if (onResponse) (inst as unknown as NodeJS.EventEmitter).on('response', (_client: unknown, _status: number, _bytes: number, latencyMs: number) => onResponse(latencyMs));
  const r = await inst;
  if (syscalls) {
    const counts = await syscalls();
    const per = (n: number) => (r.requests.total ? n / r.requests.total : 0).toFixed(2);
    log(`syscalls per request (pid ${pid}, ${r.requests.total} requests): ${Object.entries(counts).sort((a, b) => b[1] - a[1]).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${per(n)}`).join(', ')}`);
  }
  if (threads0 && r.requests.total) {
    const per: Array<[string, number]> = [];
    for (const [t, s] of threadCpuDelta(threads0, threadCpuSeconds(pid), r.requests.total)) per.push([t.startsWith(`${pid} `) ? 'main' : `thread ${t.split(' ')[0]}`, s * 1e6]);
    per.sort((a, b) => (a[0] === 'main' ? -1 : b[0] === 'main' ? 1 : b[1] - a[1]));
    log(`CPU µs per request by thread (pid ${pid}): ${per.filter(([, us]) => us >= 0.5).map(([t, us]) => `${t} ${us.toFixed(1)}`).join(', ')}`);
  }
  const cpu = cpuSeconds(pid) - cpu0;
  const up = cpuSeconds(upstreamPid) - up0;
  const cpuUsPerReq = r.requests.total ? Math.round((cpu * 1e6) / r.requests.total) : 0;
  const perUpstream = upstreamPid === pid ? 1 : up > 0 ? Number((cpu / up).toFixed(3)) : NaN;
  return { rps: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors + r.timeouts, non2xx: r.non2xx, cpuUsPerReq, perUpstream };
}

/**
 * --syscalls: perf stat on the process's syscall tracepoints (every thread) until the returned
 * function is called; resolves to the counts by syscall ("all" is every syscall).
 */
function countSyscalls(pid: number): () => Promise<Record<string, number>> {
  const names = ['read', 'readv', 'write', 'writev', 'sendto', 'recvfrom', 'epoll_pwait', 'epoll_wait', 'epoll_ctl', 'futex', 'pwrite64', 'pread64', 'fdatasync', 'fsync', 'getpid', 'mprotect', 'madvise', 'munmap', 'mmap', 'clock_gettime', 'getrusage', 'openat', 'close', 'accept4', 'setsockopt', 'ioctl', 'fcntl', 'lseek', 'statx', 'newfstatat'];
  const events = ['raw_syscalls:sys_enter', 'context-switches', ...names.map((n) => `syscalls:sys_enter_${n}`)];
  const child = spawn('perf', ['stat', '-x', ',', '-e', events.join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  // perf exits at once on an event this kernel lacks, and is missing where linux-perf is not
  // installed: its message is logged, the counts are empty, the run goes on.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      err += `perf: ${e.message}`;
      resolve();
    });
  });
  return async () => {
    child.kill('SIGINT');
    await exited;
    const counts: Record<string, number> = {};
    for (const line of err.split('\n')) {
      const [count, , event] = line.split(',');
      if (!event || !/^\d+$/.test(count ?? '')) continue;
      counts[event === 'raw_syscalls:sys_enter' ? 'all' : event === 'context-switches' ? 'context switches' : event.replace('syscalls:sys_enter_', '')] = Number(count);
    }
    if (!Object.keys(counts).length) log(`perf stat counted nothing: ${err.trim().split('\n').slice(0, 3).join(' / ')}`);
    return counts;
  };
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
    // Issuer: an RSA key, its JWKS, --tokens valid tokens and 1,000 signed with another key.
    const issuer = 'https://idp.bench.local/';
    const audience = 'jira-sidecar';
    const rsaKey = () => generateKeyPairSync('rsa', { modulusLength: 2048 });
    const { privateKey, publicKey } = rsaKey();
    const wrong = rsaKey();
    const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
    // Distinct users (as ../shared/bench-peers): the rate limiter and the audit log's per-user
    // index see the spread of a real instance, not a handful of hot keys. Signed synchronously with
    // node:crypto (≈ 0.4 ms each here), the same bytes jose's SignJWT makes: 100,000 take a minute.
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = b64({ alg: 'RS256', kid: 'bench-1' });
    const iat = Math.floor(Date.now() / 1000);
    const mint = (key: KeyObject, i: number, jti?: string) => {
      const input = `${header}.${b64({ preferred_username: `user${i}`, groups: ['jira-users'], scp: 'access', iss: issuer, aud: audience, sub: `sub-${i}`, iat, exp: iat + 7200, ...(jti ? { jti } : {}) })}`;
      return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    };
    const nTokens = Number(opts.tokens);
    if (nTokens > 5000) log(`signing ${nTokens} tokens`);
    const tokens = Array.from({ length: nTokens }, (_, i) => mint(privateKey, i));
    const badTokens = Array.from({ length: 1000 }, (_, i) => mint(wrong.privateKey, i));
    // "fresh": never-seen valid tokens, each sent once to each sidecar process (signed here, so the
    // signing is not measured). Enough for ~4,000 req/s over every measurement of the run by default.
    const wantFresh = opts.scenarios.split(',').includes('fresh');
    const nFresh = !wantFresh ? 0 : Number(opts.freshTokens ?? Math.ceil(4000 * (Number(opts.warmup) + Number(opts.duration)) * Number(opts.rounds) + 4000 * Number(opts.startWarmup) + 10));
    if (nFresh) log(`signing ${nFresh} fresh tokens`);
    const freshTokens = Array.from({ length: nFresh }, (_, i) => mint(privateKey, i % 1000, `fresh-${i}`));
    /** Per target: how far into freshTokens it is (each sidecar process has a cache of its own). */
    const freshAt: Record<string, number> = {};
    let freshReused = 0;
    const opaque = Array.from({ length: 1000 }, () => randomBytes(24).toString('hex'));
    const IDP_DELAY_MS = Number(opts.idpDelay);

    const idp = http.createServer((req, res) => {
      if (req.url === '/jwks.json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        return void res.end(JSON.stringify({ keys: [jwk] }));
      }
      if (req.url === '/introspect' && req.method === 'POST') {
        req.resume();
        req.on('end', () => {
          const answer = () => {
            res.writeHead(200, { 'Content-Type': 'application/json' });
            res.end(JSON.stringify({ active: true, username: 'introspected', groups: ['jira-users'], exp: Math.floor(Date.now() / 1000) + 3600, client_id: 'bench' }));
          };
          if (IDP_DELAY_MS > 0) setTimeout(answer, IDP_DELAY_MS);
          else answer();
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
    const leanProf = opts.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', path.join(path.resolve(opts.cpuProf), 'lean')] : [];
    const lean = await startChild('lean', [...leanProf, '--import', 'tsx', 'test/bench/lean-proxy.ts'], { UPSTREAM: upstreamUrl });
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
      const args = [...profArgs, ...nodeArgs, ...extraNodeArgs, main, 'serve'];
      const started = await startChild(name, args, env);
      return { name, url: `http://127.0.0.1:${started.port}`, pid: started.child.pid, admin: started.admin, child: started.child, apiToken, restart: () => startChild(name, args, env) };
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

    const targets: Record<string, string> = { direct: upstreamUrl, bare: `http://127.0.0.1:${bare.port}`, lean: `http://127.0.0.1:${lean.port}` };
    const pids: Record<string, number | undefined> = { direct: upstream.child.pid, bare: bare.child.pid, lean: lean.child.pid };
    const admins: Record<string, string | undefined> = {};
    const rssTables: string[] = [];
    const apiTokens: Record<string, string | undefined> = {};
    for (const sc of sidecars) (targets[sc.name] = sc.url), (pids[sc.name] = sc.pid), (apiTokens[sc.name] = sc.apiToken), (admins[sc.name] = sc.admin);
    const apiToken = sidecars.every((sc) => sc.apiToken) ? sidecars[0]!.apiToken : undefined;
    const unsigned = tokens.slice(0, 1000).map((t) => t.slice(0, t.lastIndexOf('.')));
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
      // A never-seen valid token per request (per sidecar process): one signature verification and
      // the claims check each, as a forgery pays; the allow that no cache of verified tokens can serve.
      fresh: {
        path: '/rest/api/2/myself',
        headers: (target) => {
          const at = (freshAt[target] = (freshAt[target] ?? 0) + 1);
          if (at > freshTokens.length && target.startsWith('sidecar')) freshReused++;
          return { authorization: `Bearer ${freshTokens[(at - 1) % freshTokens.length]}` };
        },
        expectStatus: 200,
      },
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
    if (startWarmup > 0 && wanted.length && ROUNDS > 0) {
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
          const stopRss = opts.rss && target.startsWith('sidecar') ? sampleRss(target, pids[target], admins[target], Number(opts.rss)) : undefined;
          const m = await measure(targets[target]!, sc, headers, DURATION, pids[target], undefined, pids.direct);
          raw.push({ scenario: s, target, ...m });
          if (stopRss) {
            const samples = await stopRss();
            rssTables.push(`RSS of ${target}, round ${round + 1}, ${s} (${s === 'jwt' || s === 'issues' ? `${tokens.length} distinct tokens, ` : ''}${Math.round(m.rps)} req/s):\n\n| s | RSS MB | V8 heap used MB |\n|---:|---:|---:|\n${samples.map((x) => `| ${x.sec} | ${x.rss.toFixed(1)} | ${x.heapUsed?.toFixed(1) ?? ''} |`).join('\n')}\n`);
          }
          log(`[${n}/${total}] round ${round + 1} ${s.padEnd(13)} ${target.padEnd(9)} ${m.rps.toFixed(0).padStart(6)} req/s  p50 ${m.p50Ms} ms  p99 ${m.p99Ms} ms  ${m.cpuUsPerReq} µs CPU/req  ÷ upstream ${m.perUpstream.toFixed(2)}${m.errors ? `  errors ${m.errors}` : ''}`);
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
          perUpstream: median(rs.map((r) => r.perUpstream)),
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
      `| scenario | target | req/s | p50 ms | p99 ms | sidecar/bare | CPU µs/req | CPU ÷ upstream's | non-2xx |`,
      `|---|---|---:|---:|---:|---:|---:|---:|---:|`,
      ...results.map((r) => `| ${r.scenario} | ${r.target} | ${r.rps} | ${r.p50Ms} | ${r.p99Ms} | ${ratioOf(r)?.toFixed(2) ?? ''} | ${r.cpuUsPerReq} | ${r.perUpstream.toFixed(2)} | ${r.non2xx} |`),
    ];
    if (raw.length) process.stdout.write(`\nMachine: ${machine.cpus} x ${machine.model}, Node ${machine.node}, ${CONNS} connections, ${DURATION}s x ${ROUNDS} rounds (medians)${PIN ? ', pinned' : ''}\n`);
    process.stdout.write(`The sidecar verifies each JWT once and caches the result by SHA-256 of the token until exp; direct/bare do no auth.\n`);
    process.stdout.write(`"refused": 1,000 bad-signature tokens in rotation (a client repeating bad tokens; the sidecar remembers a failed signature for 60 s by hash).\n`);
    process.stdout.write(`"forged": a new forged token on every request (random signature: one RSA verification each). The sidecar answers 401 to both; direct/bare forward them.\n`);
    process.stdout.write(`"fresh": a never-seen valid token on every request (signed ahead of time): one RSA verification and the claims check each.\n`);
    if (raw.length) process.stdout.write(`CPU µs/req: user+system CPU of the proxy process per request (of the upstream for "direct"); steadier than req/s on a shared machine. CPU ÷ upstream's: that over the upstream's CPU per request in the same window (the machine's speed of the moment cancels out).\n\n${lines.join('\n')}\n`);
    else process.stdout.write(`\nMachine: ${machine.cpus} x ${machine.model}, Node ${machine.node}, ${CONNS} connections${PIN ? ', pinned' : ''}\n`);
    for (const t of rssTables) process.stdout.write(`\n${t}`);
    if (freshReused) process.stdout.write(`\nWARNING: "fresh" ran out of never-seen tokens: ${freshReused} requests reused one (raise --fresh-tokens); its figures are too low.\n`);
    // Issue 25: a never-seen forgery at most 1.3 × a never-seen valid token, both against the cached allow (jwt).
    if (wanted.includes('forged') && wanted.includes('fresh')) {
      const cpu = (s: string, t: string) => results.find((r) => r.scenario === s && r.target === t)?.cpuUsPerReq;
      const perRound = (s: string, t: string) => raw.filter((r) => r.scenario === s && r.target === t).map((r) => r.cpuUsPerReq);
      const rows = order.filter((t) => t.startsWith('sidecar')).map((t) => {
        const [f, v, j] = [cpu('forged', t), cpu('fresh', t), cpu('jwt', t)];
        const ratios = perRound('forged', t).map((x, k) => (x / perRound('fresh', t)[k]!).toFixed(2));
        return `| ${t} | ${j ?? ''} | ${v} | ${f} | ${f && v ? (f / v).toFixed(2) : ''} | ${ratios.join(', ')} | ${j && v ? (v / j).toFixed(2) : ''} | ${j && f ? (f / j).toFixed(2) : ''} |`;
      });
      process.stdout.write(`\nNever-seen tokens, CPU µs per request (medians; goal: forged ÷ fresh ≤ 1.3):\n\n| target | jwt (cached allow) | fresh (never-seen valid) | forged (never-seen forgery) | forged ÷ fresh | per round | fresh ÷ jwt | forged ÷ jwt |\n|---|---:|---:|---:|---:|---|---:|---:|\n${rows.join('\n')}\n`);
    }
    // --cold-start (issue 25): a rolling restart as a load balancer sees it. Each sidecar target is
    // stopped and started again on its own data dir (the store as a restart finds it), /readyz is
    // polled every 10 ms, and jwt load (the --tokens tokens, never verified by the new process) starts
    // the moment it answers 200. The process a restart replaces has served those callers (the first
    // one for 2 s before the first restart), so with jwt.cacheHandover (default on) the new one takes
    // their verdicts over; a variant with {"jwt":{"cacheHandover":false}} verifies every token again. The p99 of the requests sent in the first second is compared with
    // the steady-state p99 of the same run (requests sent from --cold-steady-from s on); medians over
    // the restarts, the targets interleaved round by round.
    const cold: Array<{ round: number; target: string; readyMs: number; warmupMs?: number; first: number; firstP50: number; firstP99: number; first100P99: number; steadyP99: number; firstCpu: number; steadyCpu: number; errors: number }> = [];
    if (opts.coldStart) {
      const coldSeconds = Number(opts.coldDuration);
      const steadyFrom = Number(opts.coldSteadyFrom) * 1000;
      const coldTargets = sidecars.filter((sc) => order.includes(sc.name));
      // The callers' credentials: the JWTs, or the opaque tokens asked about by introspection (--cold-scenario).
      // api-token: every caller sends the target's own API token (made in its data dir at start); the
      // verifier caches no positive answer, so every request reads the store and nothing is handed over.
      if (!['jwt', 'introspection', 'api-token'].includes(opts.coldScenario)) throw new Error(`--cold-scenario: jwt, introspection or api-token, not ${opts.coldScenario}`);
      const coldTokensOf = (target: string): string[] => {
        if (opts.coldScenario === 'introspection') return opaque;
        if (opts.coldScenario === 'jwt') return tokens;
        const own = apiTokens[target.split(' ')[0]!];
        if (!own) throw new Error(`--cold-scenario api-token: ${target} has no API token (token create failed)`);
        return [own];
      };
      // The load generator (autocannon, in this process) warmed first: a cold one measures its own
      // start too (its first run here read 4.9 × on a plain Node upstream, a warm one 2.0–2.4 ×).
      log('load generator warm-up: 3 s of jwt load on the upstream');
      await measure(upstreamUrl, scenarios.jwt!, () => ({ authorization: `Bearer ${tokens[0]}` }), 3);
      for (const sc of coldTargets) {
        // The process being replaced has served the callers whose tokens the restart will see.
        await measure(sc.url, scenarios.jwt!, rot(coldTokensOf(sc.name)), 2);
        const exited = new Promise((r) => sc.child.once('exit', r));
        if (running(sc.child)) sc.child.kill('SIGTERM');
        await exited;
      }
      const pct = (xs: number[], p: number) => {
        const s = [...xs].sort((a, b) => a - b);
        return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! : NaN;
      };
      /** jwt load from the moment it is called: the first second against the steady state of the same run. */
      const loadRun = async (label: string, what: { round: number; target: string; readyMs: number; warmupMs?: number }, proxy: string, pid: number | undefined) => {
        const sent: number[] = [];
        const lat: number[] = [];
        const l0 = performance.now();
        let j = 0;
        const callers = coldTokensOf(what.target);
        // CPU per request (of the sidecar process) in the first second and in the steady state:
        // what the latency follows when the machine is shared (a busy host moves p99 by 10 ×).
        const cpuAt: Array<{ cpu: number; done: number; threads: Map<string, number> }> = [{ cpu: cpuSeconds(pid), done: 0, threads: threadCpuSeconds(pid) }];
        const mark = (k: number) => setTimeout(() => (cpuAt[k] = { cpu: cpuSeconds(pid), done: lat.length, threads: threadCpuSeconds(pid) }), k === 1 ? 1000 : steadyFrom);
        const timers = [mark(1), mark(2)];
        const m = await measure(proxy, scenarios.jwt!, () => ({ authorization: `Bearer ${callers[j++ % callers.length]}` }), coldSeconds, pid, (ms) => {
          const now = performance.now() - l0;
          sent.push(now - ms);
          lat.push(ms);
        });
        timers.forEach(clearTimeout);
        cpuAt[3] = { cpu: cpuSeconds(pid), done: lat.length, threads: threadCpuSeconds(pid) };
        // Which threads the first second's CPU went to, against a second of the steady state.
        const firstThreads = threadCpuDelta(cpuAt[0]?.threads, cpuAt[1]?.threads);
        const steadyThreads = threadCpuDelta(cpuAt[2]?.threads, cpuAt[3]?.threads, coldSeconds - steadyFrom / 1000);
        log(`  CPU s per second by thread, first second (steady): ${[...firstThreads].filter(([, v]) => v > 0.005).sort((x, y) => y[1] - x[1]).map(([t, v]) => `${t} ${v.toFixed(2)} (${(steadyThreads.get(t) ?? 0).toFixed(2)})`).join(', ')}`);
        const cpuPerReq = (a: number, b: number) => (cpuAt[a] && cpuAt[b] && cpuAt[b]!.done > cpuAt[a]!.done ? ((cpuAt[b]!.cpu - cpuAt[a]!.cpu) * 1e6) / (cpuAt[b]!.done - cpuAt[a]!.done) : NaN);
        const firstLat = lat.filter((_, k) => sent[k]! < 1000);
        const steadyLat = lat.filter((_, k) => sent[k]! >= steadyFrom);
        const row = { ...what, first: firstLat.length, firstP50: pct(firstLat, 50), firstP99: pct(firstLat, 99), first100P99: pct(lat.filter((_, k) => sent[k]! < 100), 99), steadyP99: pct(steadyLat, 99), firstCpu: cpuPerReq(0, 1), steadyCpu: cpuPerReq(2, 3), errors: m.errors + m.non2xx };
        cold.push(row);
        // Where in the first two seconds the slow requests were sent: p99 (and count) per 100 ms.
        const buckets = Array.from({ length: 20 }, (_, b) => lat.filter((_, k) => sent[k]! >= b * 100 && sent[k]! < (b + 1) * 100));
        log(`  p99 ms (requests) per 100 ms of the first 2 s: ${buckets.map((b) => `${pct(b, 99).toFixed(0)} (${b.length})`).join(', ')}`);
        log(`${label}: ${row.readyMs ? `ready after ${row.readyMs} ms (warm-up ${row.warmupMs ?? '?'} ms); ` : ''}first second ${row.first} req, p50 ${row.firstP50.toFixed(1)} ms, p99 ${row.firstP99.toFixed(1)} ms; steady p99 ${row.steadyP99.toFixed(1)} ms (${(row.firstP99 / row.steadyP99).toFixed(2)} ×); CPU/req first second ${row.firstCpu.toFixed(0)} µs, steady ${row.steadyCpu.toFixed(0)} µs (${(row.firstCpu / row.steadyCpu).toFixed(2)} ×)${row.errors ? `; errors/non-2xx ${row.errors}` : ''}`);
      };
      for (let round = 1; round <= Number(opts.coldStart); round++) {
        const rotated = [...coldTargets.slice(round % coldTargets.length), ...coldTargets.slice(0, round % coldTargets.length)];
        for (const sc of rotated) {
          const t0 = performance.now();
          const started = await sc.restart();
          const admin = started.admin!;
          const proxy = `http://127.0.0.1:${started.port}`;
          while ((await fetch(`${admin}/readyz`).then((r) => r.status, () => 0)) !== 200) await new Promise((r) => setTimeout(r, 10));
          const readyMs = Math.round(performance.now() - t0);
          const warmupMs = (/\{[^\n]*"msg":"warm-up done"[^\n]*\}/.exec(started.output()) ?? [])[0];
          for (const [line] of started.output().matchAll(/\{[^\n]*"msg":"(?:JWT verdicts|introspection answers) taken over from the last stop"[^\n]*\}/g)) {
            const h = JSON.parse(line) as { kind: string; loaded: number; skipped: number; ms: number };
            log(`  ${h.kind} verdicts taken over: ${JSON.stringify({ loaded: h.loaded, skipped: h.skipped, ms: h.ms })}`);
          }
          await loadRun(`cold start ${round} ${sc.name}`, { round, target: sc.name, readyMs, warmupMs: warmupMs ? (JSON.parse(warmupMs) as { ms: number }).ms : undefined }, proxy, started.child.pid);
          // The control: the same load once more on the process now warm (no restart, its tokens
          // cached), from new connections. What this one shows is the measuring method's own first
          // second (50 connections opened at once, the load ramping up), not the restart's.
          if (opts.coldControl) {
            await new Promise((r) => setTimeout(r, 1000));
            await loadRun(`control ${round} ${sc.name} (warm)`, { round, target: `${sc.name} (warm, new connections)`, readyMs: 0 }, proxy, started.child.pid);
          }
          const exited = new Promise((r) => started.child.once('exit', r));
          started.child.kill('SIGTERM');
          await exited;
        }
      }
      const f1 = (x: number) => x.toFixed(1);
      const perRestart = cold.map((r) => `| ${r.round} | ${r.target} | ${r.readyMs || ''} | ${r.warmupMs ?? ''} | ${r.first} | ${f1(r.firstP50)} | ${f1(r.firstP99)} | ${f1(r.steadyP99)} | ${(r.firstP99 / r.steadyP99).toFixed(2)} | ${r.firstCpu.toFixed(0)} | ${r.steadyCpu.toFixed(0)} | ${(r.firstCpu / r.steadyCpu).toFixed(2)} | ${r.errors} |`);
      const medians = [...new Set(cold.map((r) => r.target))].map((name) => {
        const rs = cold.filter((r) => r.target === name);
        const md = (f: (r: (typeof rs)[number]) => number) => median(rs.map(f));
        return `| ${name} | ${rs.length} | ${md((r) => r.readyMs) || ""} | ${md((r) => r.first)} | ${f1(md((r) => r.firstP99))} | ${f1(md((r) => r.steadyP99))} | **${md((r) => r.firstP99 / r.steadyP99).toFixed(2)}** | ${rs.map((r) => (r.firstP99 / r.steadyP99).toFixed(2)).join(', ')} | ${f1(md((r) => r.first100P99))} | ${md((r) => r.firstCpu).toFixed(0)} | ${md((r) => r.steadyCpu).toFixed(0)} | **${md((r) => r.firstCpu / r.steadyCpu).toFixed(2)}** |`;
      });
      process.stdout.write(
        `\nCold start (restart; ${opts.coldScenario} load of ${opts.coldScenario === 'api-token' ? 'each target\'s one API token' : `${coldTokensOf('').length} tokens never seen by the new process`}, ${CONNS} connections, from the moment /readyz answers 200, ${coldSeconds} s; steady state = requests sent from ${opts.coldSteadyFrom} s on; goal: first second's p99 ≤ 2 × steady):\n\n` +
          `| restart | target | ready after ms | warm-up ms | requests in the first second | p50 ms | p99 ms | steady p99 ms | first ÷ steady | CPU µs/req first second | CPU µs/req steady | CPU first ÷ steady | errors |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n${perRestart.join('\n')}\n\n` +
          `Medians over the restarts:\n\n| target | restarts | ready after ms | requests in the first second | first-second p99 ms | steady p99 ms | p99 first ÷ steady | per restart | p99 of the first 100 ms | CPU µs/req first second | steady | CPU first ÷ steady |\n|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n${medians.join('\n')}\n`,
      );
    }
    if (opts.json) {
      writeFileSync(opts.json, JSON.stringify({ machine, results: results.map(({ scenario, target, rps, p50Ms, p99Ms }) => ({ scenario, target, rps, p50Ms, p99Ms })), ratios, raw, ...(cold.length ? { coldStart: cold } : {}) }, null, 2));
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
