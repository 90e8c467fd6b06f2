import type { Command } from 'commander';

/** Commands owned by features (token, audit, admin, applink) register here, one line each. */
export function registerCommands(_program: Command): void {}
