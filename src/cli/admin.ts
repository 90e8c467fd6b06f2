// `jira-auth-sidecar admin set-password | create-key | reset-config`: the admin console's accounts and
// stored settings from the command line, on the same database and config as `serve` (safe while it
// runs: a new password ends that admin's sessions at once).
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { AdminAccounts, DEFAULT_ADMIN } from '../admin/accounts.js';
import { passwordProblem } from '../admin/password.js';
import { die, loadOrExit, openStoresOrExit } from './common.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  // One trailing newline is what `echo` / a heredoc adds; it is not part of the password.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Prompts on the terminal without echoing what is typed. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    out._writeToOutput = (s: string) => {
      if (!asked) {
        process.stderr.write(s);
        asked = true;
      }
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

async function openStore(configFile?: string) {
  const { config } = loadOrExit(configFile ?? process.env.SIDECAR_CONFIG);
  const { stores } = await openStoresOrExit(config);
  return { stores, accounts: new AdminAccounts(stores.admin, () => Date.now()) };
}

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('admin console accounts, API keys and stored settings');

  admin
    .command('set-password')
    .description('set (or create) an admin password; ends that admin\'s sessions')
    .option('-u, --username <name>', 'admin username', DEFAULT_ADMIN)
    .option('--password-stdin', 'read the password from standard input instead of prompting')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action(async (o: { username: string; passwordStdin?: boolean; config?: string }) => {
      let password: string;
      if (o.passwordStdin) password = await readStdin();
      else if (process.stdin.isTTY) {
        password = await prompt(`New password for ${o.username}: `);
        if ((await prompt('Repeat it: ')) !== password) die('the passwords differ; nothing changed');
      } else die('no terminal to prompt on: pass the password on standard input with --password-stdin');
      const problem = passwordProblem(password);
      if (problem) die(`password ${problem}; nothing changed`);
      const { stores, accounts } = await openStore(o.config);
      try {
        await accounts.setPassword(o.username, password);
      } finally {
        await stores.close();
      }
      process.stdout.write(`password set for ${o.username}\n`);
    });

  admin
    .command('create-key')
    .description('create an admin API key for scripts (Authorization: Bearer <key>); printed once')
    .requiredOption('-n, --name <name>', 'what the key is for')
    .option('--days <n>', 'expire after this many days')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action(async (o: { name: string; days?: string; config?: string }) => {
      const days = o.days === undefined ? undefined : Number(o.days);
      if (days !== undefined && !(Number.isInteger(days) && days >= 1)) die('--days must be a whole number >= 1');
      const { stores, accounts } = await openStore(o.config);
      try {
        const { key, apiKey } = await accounts.createApiKey(o.name, 'cli', days ? Date.now() + days * 86_400_000 : null);
        process.stdout.write(`${key}\n`);
        process.stderr.write(`created admin API key ${apiKey.id} (${apiKey.name}); it is shown only this once\n`);
      } finally {
        await stores.close();
      }
    });

  admin
    .command('reset-config')
    .description('forget configuration changes saved through the admin UI in the database (no config file in use)')
    .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
    .action(async (o: { config?: string }) => {
      const { stores } = await openStore(o.config);
      try {
        process.stdout.write((await stores.config.clear(Date.now())) ? 'stored admin configuration changes removed; restart the sidecar\n' : 'no stored admin configuration changes\n');
      } finally {
        await stores.close();
      }
    });
}
