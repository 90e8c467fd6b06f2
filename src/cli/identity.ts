// Issue 6's commands: `applink keygen` (oauth1-impersonation) and `credentials …` (credential-map).
import type { Command } from 'commander';
import { registerApplinkCommands } from './applink.js';
import { registerCredentialCommands } from './credentials.js';

export function registerIdentityCommands(program: Command): void {
  registerApplinkCommands(program);
  registerCredentialCommands(program);
}
