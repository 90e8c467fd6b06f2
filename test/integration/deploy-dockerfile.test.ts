// deploy/Dockerfile without a container runtime: its steps run as a script on this machine, in temp
// directories standing for the two stages' /app. COPY copies from the repository (or, with --from,
// from the build stage's directory); RUN runs in the stage's directory, except the lines that set up
// the image's operating system (apt-get, and mkdir/chown of absolute paths: the data directory is a
// temp dir here); ENV becomes the environment of CMD, which is started with free ports; then the
// HEALTHCHECK command must exit 0 and /readyz must become ready. Also: a non-root USER, the data
// directory as a VOLUME. Slow (npm ci compiles better-sqlite3): one test, a generous timeout.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/sidecar.js';

interface Step {
  op: string;
  args: string;
}
interface Stage {
  name?: string;
  steps: Step[];
}

/** The Dockerfile as stages of steps (continuation lines joined, comments dropped). */
function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const l of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(l);
    if (!m) continue;
    const [op, args] = [m[1]!.toUpperCase(), m[2]!];
    if (op === 'FROM') stages.push({ name: / AS (\S+)$/i.exec(args)?.[1], steps: [] });
    else stages.at(-1)!.steps.push({ op, args });
  }
  return stages;
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('deploy/Dockerfile as a script', () => {
  const stages = parseDockerfile(readFileSync(path.join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));
  const runtime = stages.at(-1)!;

  it('is multi-stage, runs as a non-root user, keeps its data in a volume and checks /healthz', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const user = runtime.steps.find((s) => s.op === 'USER')?.args;
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runtime.steps.find((s) => s.op === 'VOLUME')?.args).toContain('/var/lib/jira-auth-sidecar');
    expect(runtime.steps.find((s) => s.op === 'HEALTHCHECK')?.args).toContain('/healthz');
    // The runtime stage compiles nothing and keeps no development dependency.
    expect(runtime.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' ')).not.toMatch(/npm (ci|install)/);
  });

  it('builds, starts and answers its HEALTHCHECK and /readyz', async () => {
    const base = tempDir('dockerfile-');
    dirs.push(base);
    const dirOf = new Map<string, string>();
    const dataDir = path.join(base, 'data');
    mkdirSync(dataDir);
    let env: Record<string, string> = {};
    let cmd: string[] = [];
    let health = '';
    for (const [i, stage] of stages.entries()) {
      const app = path.join(base, `stage-${i}`);
      mkdirSync(app, { recursive: true });
      if (stage.name) dirOf.set(stage.name, app);
      for (const { op, args } of stage.steps) {
        if (op === 'COPY') {
          const from = /--from=(\S+)/.exec(args)?.[1];
          const parts = args.replace(/--\S+/g, '').trim().split(/\s+/);
          const dest = path.resolve(app, parts.pop()!);
          for (const src of parts) {
            const srcPath = from ? path.join(dirOf.get(from)!, src.replace(/^\/app\/?/, '')) : path.join(ROOT, src);
            const target = parts.length > 1 || dest.endsWith(path.sep) ? path.join(dest, path.basename(src)) : dest;
            cpSync(srcPath, target, { recursive: true, filter: (s) => !/[\\/](node_modules|dist|\.git)$/.test(s) || !!from });
          }
        } else if (op === 'RUN') {
          // The image's operating system: packages and directories outside /app are the machine's business here.
          if (/^apt-get|^mkdir -p \/|chown/.test(args)) continue;
          const r = spawnSync('sh', ['-c', args], { cwd: app, encoding: 'utf8', env: { ...process.env, ...env, CI: 'true' }, maxBuffer: 64 * 1024 * 1024 });
          expect(r.status, `RUN ${args}\n${r.stderr?.slice(-3000)}`).toBe(0);
        } else if (op === 'ENV') {
          for (const m of args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
        } else if (op === 'CMD') cmd = JSON.parse(args) as string[];
        else if (op === 'HEALTHCHECK') health = args.replace(/^.*?CMD\s+/, '');
      }
      if (i < stages.length - 1) env = {};
    }
    const [port, adminPort] = [await freePort(), await freePort()];
    const runEnv = { ...process.env, ...env, SIDECAR_DATA_DIR: dataDir, SIDECAR_PORT: String(port), SIDECAR_ADMIN_PORT: String(adminPort), SIDECAR_HOST: '127.0.0.1', SIDECAR_ADMIN_HOST: '127.0.0.1', SIDECAR_ADMIN_PASSWORD: 'a-long-test-password', SIDECAR_CONFIG: '' };
    const app = path.join(base, `stage-${stages.length - 1}`);
    const child = spawn(cmd[0] === 'node' ? process.execPath : cmd[0]!, cmd.slice(1), { cwd: app, env: runEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    try {
      const healthArgs = JSON.parse(health) as string[];
      let healthy = false;
      for (let t = 0; t < 100 && !healthy; t++) {
        await new Promise((r) => setTimeout(r, 300));
        healthy = spawnSync(healthArgs[0] === 'node' ? process.execPath : healthArgs[0]!, healthArgs.slice(1), { env: runEnv }).status === 0;
      }
      expect(healthy, out.slice(-3000)).toBe(true);
      let ready = 0;
      for (let t = 0; t < 100 && ready !== 200; t++) {
        ready = await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.status, () => 0);
        if (ready !== 200) await new Promise((r) => setTimeout(r, 300));
      }
      expect(ready, out.slice(-3000)).toBe(200);
      // The admin UI was built into the image.
      expect(await fetch(`http://127.0.0.1:${adminPort}/`).then((r) => r.text())).toContain('<script');
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  }, 600_000);
});
