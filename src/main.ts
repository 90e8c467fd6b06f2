#!/usr/bin/env node
// CLI entry: serve, migrate, config validate, and the feature commands of cli/index.ts (token, audit,
// admin, applink, credentials, store). Reads the same env and config (SIDECAR_CONFIG + SIDECAR_*) as serve.
import { Command } from 'commander';
import { createLogger } from './log.js';
import { startSidecar, type RunningSidecar } from './http/server.js';
import { MigrationError } from './store/sqlite/migrate.js';
import { registerCommands } from './cli/index.js';
import { die, loadOrExit, openStoresOrExit } from './cli/common.js';
import { reloadConfig } from './admin/config-service.js';
import { workerRole } from './worker-role.js';
import { runPrimary, workerCount } from './http/workers.js';
import { attachWorker } from './http/cluster-worker.js';

const program = new Command()
  .name('jira-auth-sidecar')
  .description('Authenticating sidecar for the Jira Data Center REST API')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the proxy and admin listeners (config from SIDECAR_CONFIG + SIDECAR_* env)')
  .option('-c, --config <file>', 'config file (default: $SIDECAR_CONFIG)')
  .action(async (o: { config?: string }) => {
    const loaded = loadOrExit(o.config ?? process.env.SIDECAR_CONFIG);
    // server.workers > 1: this process becomes the cluster primary (http/workers.ts); its workers come back here.
    const role = workerRole();
    const logger = role ? createLogger(loaded.config.log.level).child({ worker: role.index, pid: process.pid }) : createLogger(loaded.config.log.level);
    const workers = role ? 1 : workerCount(loaded.config.server.workers);
    if (workers > 1) {
      try {
        return await runPrimary({ config: loaded.config, logger, workers });
      } catch (e) {
        if (e instanceof MigrationError) die(`migration failed: ${e.file}: ${e.sqlError.message}`);
        logger.fatal({ err: e }, 'failed to start');
        process.exit(1);
      }
    }
    // Handlers go in before the listeners open: a signal that arrives while starting (or right after
    // the "listening" line) must shut down cleanly, not hit the default action and kill the process.
    let running: RunningSidecar | undefined;
    let requested: string | undefined;
    let signals = 0;
    const shutdown = (sidecar: RunningSidecar) =>
      sidecar.close().then(
        () => process.exit(0),
        (e) => {
          logger.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
    const stop = (sig: string) => {
      signals++;
      // A worker is told to stop by its primary and often by the same signal too (Ctrl-C, systemd): once is enough.
      if (signals > 1 && role) return;
      if (signals > 1) process.exit(130);
      logger.info({ signal: sig }, 'signal received');
      requested = sig;
      if (running) void shutdown(running);
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    // Re-read the config file and swap it in (an invalid one changes nothing); `systemctl reload`.
    process.on('SIGHUP', () => {
      if (role) return; // the primary has every worker reload
      logger.info({ signal: 'SIGHUP' }, 'signal received: reloading the configuration');
      if (!running) return void logger.warn('SIGHUP while starting: ignored (the configuration being started is the file as it is now)');
      reloadConfig(running.runtime).catch((e: unknown) => logger.error({ err: e }, 'config reload failed'));
    });
    try {
      running = await startSidecar({ config: loaded.config, raw: loaded.raw, configFile: loaded.file, logger });
    } catch (e) {
      if (e instanceof MigrationError) die(`migration failed: ${e.file}: ${e.sqlError.message}`);
      logger.fatal({ err: e }, 'failed to start');
      process.exit(1);
    }
    if (role) attachWorker(running, logger, stop);
    if (requested) void shutdown(running);
  });

program
  .command('migrate')
  .description('apply pending migrations to the configured store (SQLite in SIDECAR_DATA_DIR, or PostgreSQL) and exit')
  .action(async () => {
    const { config } = loadOrExit();
    const { stores, migrations } = await openStoresOrExit(config);
    await stores.close();
    process.stdout.write(
      migrations?.applied.length ? `applied ${migrations.applied.length} migration(s): ${migrations.applied.join(', ')}\n` : 'database is up to date\n',
    );
  });

const configCmd = program.command('config').description('configuration tools');
configCmd
  .command('validate')
  .argument('<file>', 'YAML or JSON config file')
  .description('validate a config file (with env overrides); exit 1 listing every bad field by path')
  .action((file: string) => {
    loadOrExit(file);
    process.stdout.write(`${file}: valid\n`);
  });

registerCommands(program);

program.parseAsync(process.argv).catch((e) => die(`error: ${(e as Error).message}`));
