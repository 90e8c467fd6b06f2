// `jira-auth-sidecar reload`: asks a running sidecar to re-read its config file (POST /api/reload on
// its admin listener, with an admin API key), or sends it SIGHUP (--pid). Prints what changed, what
// needs a restart, or why the file was refused (exit 1; nothing changed).
import type { Command } from 'commander';
import { die, loadOrExit } from './common.js';

interface ReloadAnswer {
  result?: string;
  changes?: Array<{ path: string }>;
  restartRequired?: string[];
  issues?: Array<{ path: string; message: string }>;
  error?: string;
  message?: string;
}

export function registerReloadCommand(program: Command): void {
  program
    .command('reload')
    .description("re-read the running sidecar's config file and apply it (invalid: nothing changes); as SIGHUP does")
    .option('--url <url>', 'admin listener of the sidecar (default: from the config, http(s)://server.adminHost:server.adminPort; https with admin.tls, its CA trusted through NODE_EXTRA_CA_CERTS)')
    .option('--api-key <key>', 'an admin API key (`admin create-key`); default: $SIDECAR_ADMIN_API_KEY')
    .option('--pid <pid>', 'send SIGHUP to this process instead (same machine; prints nothing back)')
    .action(async (o: { url?: string; apiKey?: string; pid?: string }) => {
      if (o.pid !== undefined) {
        const pid = Number(o.pid);
        if (!Number.isInteger(pid) || pid <= 0) die('--pid must be a process id');
        try {
          process.kill(pid, 'SIGHUP');
        } catch (e) {
          die(`cannot signal ${pid}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        process.stdout.write(`sent SIGHUP to ${pid}; its log says what changed\n`);
        return;
      }
      const key = o.apiKey ?? process.env.SIDECAR_ADMIN_API_KEY;
      if (!key) die('an admin API key is needed: --api-key KEY or SIDECAR_ADMIN_API_KEY (create one with `jira-auth-sidecar admin create-key`), or --pid PID');
      let url = o.url;
      if (!url) {
        const { config } = loadOrExit();
        const host = ['0.0.0.0', '::', ''].includes(config.server.adminHost) ? '127.0.0.1' : config.server.adminHost;
        url = `${config.admin.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.server.adminPort}`;
      }
      let res: Response;
      try {
        res = await fetch(new URL('/api/reload', url), { method: 'POST', headers: { authorization: `Bearer ${key}` } });
      } catch (e) {
        die(`no sidecar answered at ${url}: ${(e as Error).message}`);
      }
      const body = (await res.json().catch(() => ({}))) as ReloadAnswer;
      if (res.status === 400 && body.error === 'config_invalid') {
        die(`refused: ${body.message}\n${(body.issues ?? []).map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
      }
      if (!res.ok) die(`reload failed: HTTP ${res.status} ${body.error ?? ''} ${body.message ?? ''}`.trim());
      const changes = body.changes ?? [];
      process.stdout.write(
        body.result === 'unchanged' ? 'the configuration already matches the file: nothing changed\n' : `applied ${changes.length} change(s): ${changes.map((c) => c.path).join(', ')}\n`,
      );
      if (body.restartRequired?.length) process.stdout.write(`needs a restart to apply (kept as running): ${body.restartRequired.join(', ')}\n`);
    });
}
