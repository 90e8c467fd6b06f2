// Start-up work for the admin console (called from http/services.ts before the listeners open):
// replay stored configuration changes, and make sure an admin account exists.
import type { Runtime } from '../http/runtime.js';
import { DEFAULT_ADMIN } from './accounts.js';
import { adminAccountsOf } from './auth.js';
import { initConfigState, loadStoredConfig } from './config-service.js';
import { startConfigSync } from './config-sync.js';
import { generatePassword, MIN_PASSWORD_LENGTH, verifyPassword } from './password.js';

/**
 * SIDECAR_ADMIN_PASSWORD sets the password of "admin" at every start (a no-op when it already
 * matches, so sessions survive restarts). Without it and without any admin, a random password is
 * generated, stored hashed and printed once: on stdout and in one log line, because in a container
 * the log is often the only place an operator can read it. Change it after the first login.
 */
export async function setupAdmin(rt: Runtime, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  initConfigState(rt);
  await loadStoredConfig(rt, env);
  startConfigSync(rt, env); // cluster: changes saved on other replicas, within store.syncIntervalMs
  const accounts = adminAccountsOf(rt);
  const log = rt.deps.logger;
  const fromEnv = env.SIDECAR_ADMIN_PASSWORD;
  if (fromEnv) {
    if (fromEnv.length < MIN_PASSWORD_LENGTH) log.warn({ minLength: MIN_PASSWORD_LENGTH }, 'SIDECAR_ADMIN_PASSWORD is short; use a longer one');
    const user = await accounts.findUser(DEFAULT_ADMIN);
    if (!user || !(await verifyPassword(fromEnv, user.passwordHash))) {
      await accounts.setPassword(DEFAULT_ADMIN, fromEnv);
      log.info({ username: DEFAULT_ADMIN }, 'admin password set from SIDECAR_ADMIN_PASSWORD');
    }
    return;
  }
  if ((await accounts.userCount()) > 0) return;
  const generated = generatePassword();
  await accounts.setPassword(DEFAULT_ADMIN, generated);
  // The password is printed once as a plain stdout line, never put in a structured log line
  // (log pipelines keep and ship those; secrets never reach a log).
  log.warn({ username: DEFAULT_ADMIN }, 'no admin account existed: generated an admin password, printed once on stdout (change it after logging in)');
  if (log.level !== 'silent') {
    process.stdout.write(`\n  Admin login (shown once): username "${DEFAULT_ADMIN}", password "${generated}"\n  Change it in the admin UI or with: jira-auth-sidecar admin set-password\n\n`);
  }
}
