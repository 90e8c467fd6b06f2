// server.workers: requests/s of the sidecar with 1, 2 (and 3) worker processes, the load generator
// unpinned (nothing is taskset: the OS spreads the sidecar's processes, the upstream and wrk over
// the cores, as on a real host). Run: `npm run bench:workers` (builds nothing: `npm run build` first).
//
//   node --import tsx test/bench/workers.ts [--workers 1,2,3] [--rounds 3] [--duration 10] [--warmup 3]
//                                           [--connections 50] [--threads 2] [--tokens 1000] [--json FILE]
//                                           [--cpu-prof DIR]  (a .cpuprofile per process: test/bench/prof-top.ts)
//
// The scenario is the peers harness's (../shared/bench-peers, test/bench/peers-sidecar-config.json):
// GET /rest/api/2/myself with 1,000 distinct RS256 tokens rotated by wrk (JWT via JWKS), rate limit
// (memory) and audit on. Rounds are interleaved (1, 2, 3, 1, 2, 3, ...) and medians reported.
//
// Is the upstream the bottleneck? Two figures say: the upstream alone (wrk straight at it) and the
// CPU it uses per second of wall time while each sidecar is measured (/proc utime+stime), printed
// beside every row with the CPU of the sidecar's process group (primary + workers) and of wrk.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK } from 'jose';
import { CLK_TCK, cpuSeconds } from './proc.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const { values: opts } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,3' },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    connections: { type: 'string', default: '50' },
    threads: { type: 'string', default: '2' },
    tokens: { type: 'string', default: '1000' },
    json: { type: 'string' },
    // Every sidecar process (primary and workers: cluster.fork passes execArgv on) writes a .cpuprofile here.
    'cpu-prof': { type: 'string' },
  },
});
const log = (m: string) => process.stderr.write(`[bench:workers] ${m}\n`);
const children: ChildProcess[] = [];

/** utime + stime of this machine (all cores) in seconds, and the idle time. */
function machineCpu(): { busy: number; idle: number } {
  const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = v.map(Number);
  const idle = n[3]! + n[4]!;
  return { busy: (n.reduce((a, b) => a + b, 0) - idle) / CLK_TCK, idle: idle / CLK_TCK };
}

interface Server {
  child: ChildProcess;
  url: string;
  admin?: string;
  /** The pids whose CPU counts as this server's (a cluster: primary and workers). */
  pids: () => number[];
}

/** Starts a child and resolves once it says it listens: a {ready, port} line, or the sidecar's log. */
function start(name: string, args: string[], env: Record<string, string>, workers = 1): Promise<Server> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  const workerPids = new Map<number, number>();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${name} did not start: ${out}`)), 60_000);
    child.stderr!.on('data', (c) => (out += c));
    let url: string | undefined;
    let admin: string | undefined;
    child.stdout!.on('data', (c: Buffer) => {
      out += c;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        let j: Record<string, any>;
        try {
          j = JSON.parse(line);
        } catch {
          continue; // a partial line
        }
        if (j.ready && j.port) url = `http://127.0.0.1:${j.port}`;
        if (j.msg === 'sidecar listening') ((url = j.proxy), (admin = j.admin));
        if (j.msg === 'worker listening') workerPids.set(j.worker, j.workerPid);
        const up = j.ready || (workers === 1 ? j.msg === 'sidecar listening' : j.msg === 'all workers listening');
        if (up && url) {
          clearTimeout(t);
          return resolve({ child, url, admin, pids: () => [child.pid!, ...workerPids.values()] });
        }
      }
      if (out.length > 1e6) out = out.slice(-1e5);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited ${code}: ${out}`)));
  });
}

interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU seconds per wall second over the measured window. */
  cpu: { target: number; upstream: number; wrk: number; machine: number };
  perPid: number[];
}

const LUA = `
local reqs = {}
local idx = 0
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args)
  local f = os.getenv("TOKENS_FILE")
  if f and f ~= "" then
    for line in io.lines(f) do
      if #line > 0 then reqs[#reqs + 1] = wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. line }) end
    end
  end
  if #reqs == 0 then reqs[1] = wrk.format("GET", wrk.path) end
  idx = ((tid or 0) * 7919) % #reqs
end
function request() idx = idx % #reqs + 1; return reqs[idx] end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"errors":%d,"non2xx":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
`;

function wrk(url: string, seconds: number, tokensFile: string, lua: string, target: () => number[], upstreamPid: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', ['-t', opts.threads!, '-c', opts.connections!, '-d', `${seconds}s`, '--latency', '-s', lua, `${url}/rest/api/2/myself`], {
      env: { ...process.env, TOKENS_FILE: tokensFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const sum = (pids: number[]) => pids.reduce((a, p) => a + cpuSeconds(p), 0);
    const t0 = performance.now();
    const before = { target: sum(target()), upstream: cpuSeconds(upstreamPid), machine: machineCpu().busy };
    const perPidBefore = target().map((p) => cpuSeconds(p));
    let out = '';
    child.stdout!.on('data', (c) => (out += c));
    child.stderr!.on('data', (c) => (out += c));
    // wrk's own CPU, read just before it exits (its last report is written then).
    let wrkCpu = 0;
    const poll = setInterval(() => (wrkCpu = cpuSeconds(child.pid) || wrkCpu), 200);
    child.once('exit', (code) => {
      clearInterval(poll);
      const wall = (performance.now() - t0) / 1000;
      const line = out.split('\n').find((l) => l.startsWith('{"requests"'));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${out}`));
      const j = JSON.parse(line) as { requests: number; duration_us: number; errors: number; non2xx: number; p50_us: number; p99_us: number };
      resolve({
        rps: j.requests / (j.duration_us / 1e6),
        p50Ms: j.p50_us / 1000,
        p99Ms: j.p99_us / 1000,
        errors: j.errors,
        non2xx: j.non2xx,
        cpu: {
          target: (sum(target()) - before.target) / wall,
          upstream: (cpuSeconds(upstreamPid) - before.upstream) / wall,
          wrk: wrkCpu / wall,
          machine: (machineCpu().busy - before.machine) / wall,
        },
        // The first pid is the process started (a cluster's primary), then its workers.
        perPid: target().map((p, i) => (cpuSeconds(p) - (perPidBefore[i] ?? 0)) / wall),
      });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

async function main() {
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('run `npm run build` first');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sidecar-bench-workers-'));
  try {
    // Tokens: 1,000 distinct users, RS256, one key published as a JWKS by this process.
    const issuer = 'https://idp.bench.local/';
    const audience = 'jira-sidecar';
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const header = b64({ alg: 'RS256', kid: 'bench-1' });
    const iat = Math.floor(Date.now() / 1000);
    const tokens = Array.from({ length: Number(opts.tokens) }, (_, i) => {
      const input = `${header}.${b64({ preferred_username: `user${i}`, groups: ['jira-users'], iss: issuer, aud: audience, sub: `sub-${i}`, iat, exp: iat + 7200 })}`;
      return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    });
    const tokensFile = path.join(tmp, 'tokens.txt');
    writeFileSync(tokensFile, `${tokens.join('\n')}\n`);
    const lua = path.join(tmp, 'bench.lua');
    writeFileSync(lua, LUA);
    const idp = http.createServer((req, res) => {
      if (req.url !== '/jwks.json') return void res.writeHead(404).end();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`;

    const upstream = await start('upstream', ['--import', 'tsx', 'test/bench/upstream.ts'], {});
    const peersConfig = readFileSync(path.join(ROOT, 'test', 'bench', 'peers-sidecar-config.json'), 'utf8');
    const startFlags = /^node\s+((?:--\S+\s+)*)dist\/main\.js/.exec((JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start)?.[1]?.split(/\s+/).filter(Boolean) ?? [];
    const counts = opts.workers!.split(',').map(Number);
    const sidecars = new Map<number, Server>();
    for (const n of counts) {
      const cfgFile = path.join(tmp, `sidecar-${n}.json`);
      const cfg = JSON.parse(peersConfig) as { server?: Record<string, unknown>; log?: Record<string, unknown> };
      cfg.server = { ...cfg.server, workers: n };
      cfg.log = { level: 'info' };
      writeFileSync(cfgFile, JSON.stringify(cfg));
      const prof = opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts['cpu-prof'], `workers-${n}`)}`] : [];
      const s = await start(`sidecar-${n}`, [...startFlags, ...prof, 'dist/main.js', 'serve'], {
        SIDECAR_CONFIG: cfgFile,
        SIDECAR_UPSTREAM: upstream.url,
        SIDECAR_ISSUER: issuer,
        SIDECAR_AUDIENCE: audience,
        SIDECAR_JWKS_URL: jwksUrl,
        SIDECAR_DATA_DIR: path.join(tmp, `data-${n}`),
        SIDECAR_HOST: '127.0.0.1',
        SIDECAR_PORT: '0',
        SIDECAR_ADMIN_PORT: '0',
        SIDECAR_ADMIN_PASSWORD: 'bench-admin-password',
      }, n);
      // Ready: every worker's warm-up done (answered by whichever worker the connection reaches).
      for (let ok = 0, tries = 0; ok < 4 * n && tries < 600; tries++) {
        const r = await fetch(`${s.admin}/readyz`).catch(() => undefined);
        ok = r?.status === 200 ? ok + 1 : 0;
        if (!ok) await new Promise((x) => setTimeout(x, 100));
      }
      sidecars.set(n, s);
      log(`sidecar with workers ${n} up (pids ${s.pids().join(', ')})`);
    }

    log(`upstream alone: ${opts.warmup} s warm-up, ${opts.duration} s measured`);
    await wrk(upstream.url, Number(opts.warmup), tokensFile, lua, () => [], upstream.child.pid!);
    const alone = await wrk(upstream.url, Number(opts.duration), tokensFile, lua, () => [], upstream.child.pid!);
    log(`upstream alone: ${alone.rps.toFixed(0)} req/s, its CPU ${f2(alone.cpu.upstream)} core(s)`);

    const results = new Map<number, WrkResult[]>(counts.map((n) => [n, []]));
    for (let round = 1; round <= Number(opts.rounds); round++) {
      for (const n of counts) {
        const s = sidecars.get(n)!;
        await wrk(s.url, Number(opts.warmup), tokensFile, lua, s.pids, upstream.child.pid!);
        const r = await wrk(s.url, Number(opts.duration), tokensFile, lua, s.pids, upstream.child.pid!);
        if (r.errors || r.non2xx) log(`  workers ${n}: ${r.errors} socket errors, ${r.non2xx} non-2xx answers`);
        results.get(n)!.push(r);
        log(`round ${round} workers ${n}: ${r.rps.toFixed(0)} req/s p50 ${f1(r.p50Ms)} ms p99 ${f1(r.p99Ms)} ms; CPU sidecar ${f2(r.cpu.target)} upstream ${f2(r.cpu.upstream)} wrk ${f2(r.cpu.wrk)} machine ${f2(r.cpu.machine)} (per process: ${r.perPid.map(f2).join(' + ')})`);
      }
    }

    const rows = counts.map((n) => {
      const rs = results.get(n)!;
      return {
        workers: n,
        rps: median(rs.map((r) => r.rps)),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        cpuSidecar: median(rs.map((r) => r.cpu.target)),
        cpuUpstream: median(rs.map((r) => r.cpu.upstream)),
        cpuWrk: median(rs.map((r) => r.cpu.wrk)),
        cpuMachine: median(rs.map((r) => r.cpu.machine)),
        cpuUsPerReq: median(rs.map((r) => (r.cpu.target * 1e6) / r.rps)),
      };
    });
    const one = rows.find((r) => r.workers === 1);
    const cpus = os.cpus();
    const machine = `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, node ${process.version}, ${os.platform()} ${os.release()}, availableParallelism ${os.availableParallelism()}`;
    const out: string[] = [];
    out.push(`Machine: ${machine}`);
    out.push(`Load: wrk -t${opts.threads} -c${opts.connections}, ${opts.tokens} RS256 tokens rotated, GET /rest/api/2/myself, unpinned; ${opts.rounds} interleaved rounds of ${opts.duration} s (after ${opts.warmup} s warm-up), medians`);
    out.push(`Upstream alone: ${alone.rps.toFixed(0)} req/s (its CPU ${f2(alone.cpu.upstream)} core(s), wrk ${f2(alone.cpu.wrk)})`);
    out.push('');
    out.push('| workers | req/s | × 1 worker | p50 ms | p99 ms | CPU sidecar (cores) | CPU µs/req | CPU upstream | CPU wrk | machine busy |');
    out.push('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
      out.push(`| ${r.workers} | ${r.rps.toFixed(0)} | ${one ? f2(r.rps / one.rps) : '-'} | ${f1(r.p50Ms)} | ${f1(r.p99Ms)} | ${f2(r.cpuSidecar)} | ${r.cpuUsPerReq.toFixed(0)} | ${f2(r.cpuUpstream)} | ${f2(r.cpuWrk)} | ${f2(r.cpuMachine)} of ${cpus.length} |`);
    process.stdout.write(`${out.join('\n')}\n`);
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ machine, upstreamAlone: alone, rows, rounds: Object.fromEntries(results) }, null, 2));
    idp.close();
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    log(`failed: ${(e as Error).stack ?? String(e)}`);
    process.exit(1);
  },
);
