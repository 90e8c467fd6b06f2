import type { Command } from 'commander';
import { registerAdminCommands } from './admin.js';
import { registerAuditCommands } from './audit.js';
import { registerTokenCommands } from './token.js';
import { registerIdentityCommands } from './identity.js';
import { registerStoreCommands } from './store.js';
import { registerRolloutCommands } from './rollout.js';
import { registerReloadCommand } from './reload.js';

/** Commands owned by features (token, audit, admin, applink, store) register here, one line each. */
export function registerCommands(program: Command): void {
  registerAuditCommands(program);
  registerTokenCommands(program);
  registerAdminCommands(program);
  registerIdentityCommands(program); // applink keygen, credentials set|list|delete|rotate
  registerStoreCommands(program); // store copy
  registerRolloutCommands(program); // report credentials, replay
  registerReloadCommand(program); // reload (POST /api/reload or SIGHUP)
}
