// Start a real sidecar for a test: in-process (startSidecar, the function `serve` calls) on
// 127.0.0.1:0 with a temporary data dir, from one base config plus overrides.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { validate } from '../../src/config/validate.js';
import { startSidecar, type RunningSidecar } from '../../src/http/server.js';
import { createLogger } from '../../src/log.js';
import type { Clock } from '../../src/clock.js';
import { until } from './http.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export function tempDir(prefix = 'sidecar-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Deep merge (objects merge, arrays and scalars replace). */
export function merge<T>(base: T, over: unknown): T {
  if (over === undefined) return base;
  if (Array.isArray(over) || typeof over !== 'object' || over === null) return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out as T;
}

export function baseConfig(upstreamUrl: string, dataDir: string): Record<string, unknown> {
  return {
    // No start-up warm-up: tests read /readyz at once (test/integration/warm-up.test.ts covers it).
    server: { host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, dataDir, shutdownGraceMs: 5000, warmupRequests: 0 },
    log: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    upstream: { url: upstreamUrl, timeoutMs: 5000 },
  };
}

export interface TestSidecar extends RunningSidecar {
  dataDir: string;
}

export async function startTestSidecar(upstreamUrl: string, overrides: unknown = {}, opts: { clock?: Clock; dataDir?: string } = {}): Promise<TestSidecar> {
  const dataDir = opts.dataDir ?? tempDir();
  const v = validate(merge(baseConfig(upstreamUrl, dataDir), overrides));
  if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`);
  const s = await startSidecar({ config: v.config, logger: createLogger(v.config.log.level), clock: opts.clock });
  const close = s.close;
  return {
    ...s,
    dataDir,
    close: async () => {
      await close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until a sidecar's start-up steps before ready have run (its /readyz `warm-up` check passes;
 * the verdicts a stopped sidecar handed over are read then). /readyz itself may stay 503 for other
 * checks (an issuer that is down). A load balancer sends nothing before ready either.
 */
export async function startupStepsRan(s: TestSidecar): Promise<void> {
  await until(async () => {
    const body = (await (await fetch(`${s.adminUrl}/readyz`)).json()) as { checks: Array<{ name: string; ok: boolean }> };
    return body.checks.some((c) => c.name === 'warm-up' && c.ok);
  }, 'the start-up steps before ready');
}

/**
 * Restarts on one data dir (the verdict handover's tests): `start` a sidecar and wait for its
 * start-up steps, `stop` one gracefully (what hands its verdicts over). Each started sidecar is kept
 * in `running` until stopped, for the test's afterEach to close.
 */
export function restarts(upstreamUrl: () => string, running: Array<{ close(): Promise<void> }>) {
  return {
    async start(dataDir: string, overrides: unknown, clock?: Clock): Promise<TestSidecar> {
      const s = await startTestSidecar(upstreamUrl(), overrides, { dataDir, ...(clock && { clock }) });
      running.push(s);
      await startupStepsRan(s);
      return s;
    },
    async stop(s: TestSidecar): Promise<void> {
      running.splice(running.indexOf(s), 1);
      await s.close();
    },
  };
}

export interface SpawnedSidecar {
  child: ChildProcess;
  proxyUrl: string;
  adminUrl: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The structured (JSON) log lines a spawned sidecar wrote so far, parsed; a cluster's primary and workers share stdout. */
export const logLines = (s: SpawnedSidecar): Array<Record<string, any>> =>
  s
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>);

/** Stops a spawned sidecar that is still running (SIGKILL: for afterAll, after the test's own checks). */
export function killIfRunning(s: SpawnedSidecar | undefined): void {
  if (s && s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
}

/** The real entry point: `node dist/main.js serve` (built by `npm test`'s pretest). */
export async function spawnSidecar(env: Record<string, string>, args: string[] = ['serve']): Promise<SpawnedSidecar> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], {
    env: { ...process.env, SIDECAR_HOST: '127.0.0.1', SIDECAR_PORT: '0', SIDECAR_ADMIN_PORT: '0', SIDECAR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (err += c));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const urls = await new Promise<{ proxy: string; admin: string }>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL'); // a sidecar that never said it listens must not outlive the test
      reject(new Error(`sidecar did not start: ${out}\n${err}`));
    }, 20_000);
    const check = () => {
      for (const line of out.split('\n')) {
        if (!line.includes('sidecar listening')) continue;
        const j = JSON.parse(line) as { proxy: string; admin: string };
        clearTimeout(t);
        resolve(j);
        return;
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(t);
      reject(new Error(`sidecar exited with ${code}: ${out}\n${err}`));
    });
  });
  return { child, proxyUrl: urls.proxy, adminUrl: urls.admin, stdout: () => out, stderr: () => err, exited };
}
