// A pg connection pool for the stores: bigint columns (ms since the epoch) come back as numbers,
// every statement has a timeout, and the URL's password never reaches a log line.
import { readFileSync } from 'node:fs';
import pg from 'pg';

export interface PostgresOptions {
  url: string;
  /** Most connections one replica opens. */
  poolSize?: number;
  /** A statement running longer is cancelled by the server (statement_timeout). */
  statementTimeoutMs?: number;
  /** Connecting gives up after this long. */
  connectTimeoutMs?: number;
  /** A CA bundle (PEM file) to verify the server with; implies TLS with verify-full. */
  caFile?: string;
}

const BIGINT_OID = 20;
const parseBigint = (v: string) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`bigint ${v} does not fit a JavaScript number`);
  return n;
};

/** "postgres://user:secret@host/db" -> "postgres://user:***@host/db": the only form that may be logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return 'postgres://(unparsable url)';
  }
}

/** A TLS setting that would connect to a server whose certificate is not checked. */
export class InsecureTlsError extends Error {}

/**
 * TLS to PostgreSQL, decided here and never by the URL alone: pg lets a URL's sslmode replace the
 * ssl option given beside it (ConnectionParameters merges the parsed URL last), which would drop
 * store.caFile. So the TLS parameters are taken out of the URL and turned into one ssl option:
 *   no sslmode, no caFile          -> plain TCP (a loopback or private network)
 *   sslmode require | verify-ca | verify-full, or a caFile
 *                                  -> TLS, certificate chain and host name verified (against caFile
 *                                     or sslrootcert when given, else the system CAs)
 *   sslmode disable                -> plain TCP (refused together with a caFile: contradictory)
 *   sslmode prefer | allow | no-verify
 *                                  -> refused: a connection whose server is not verified, silently
 */
export function tlsOf(o: Pick<PostgresOptions, 'url' | 'caFile'>): { url: string; ssl: false | { ca?: string; rejectUnauthorized: true } } {
  let u: URL;
  try {
    u = new URL(o.url);
  } catch {
    throw new TypeError('store.url is not a URL (postgres://user:password@host:5432/database)');
  }
  const mode = u.searchParams.get('sslmode') ?? undefined;
  const rootCert = u.searchParams.get('sslrootcert') ?? undefined;
  for (const k of ['sslmode', 'sslrootcert', 'ssl', 'uselibpqcompat']) u.searchParams.delete(k);
  if (mode && ['prefer', 'allow', 'no-verify'].includes(mode)) {
    throw new InsecureTlsError(`sslmode=${mode} would accept a server whose certificate is not checked; use sslmode=verify-full (with store.caFile for a private CA) or leave TLS off on a trusted network`);
  }
  if (mode && !['disable', 'require', 'verify-ca', 'verify-full'].includes(mode)) throw new TypeError(`sslmode=${mode} is not a PostgreSQL sslmode`);
  if (mode === 'disable') {
    if (o.caFile) throw new InsecureTlsError('sslmode=disable contradicts store.caFile: remove one of them');
    return { url: u.toString(), ssl: false };
  }
  const caPath = o.caFile ?? rootCert;
  if (!mode && !caPath) return { url: u.toString(), ssl: false };
  return { url: u.toString(), ssl: { ...(caPath ? { ca: readFileSync(caPath, 'utf8') } : {}), rejectUnauthorized: true } };
}

export function createPool(o: PostgresOptions): pg.Pool {
  const { url, ssl } = tlsOf(o);
  const pool = new pg.Pool({
    connectionString: url,
    ssl,
    max: o.poolSize ?? 10,
    statement_timeout: o.statementTimeoutMs ?? 5000,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === BIGINT_OID ? parseBigint : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client that loses its connection emits 'error' on the pool; without a listener that
  // would end the process. The next query gets a fresh connection (or fails, and its caller answers 503).
  pool.on('error', () => {});
  // The same for a client that is checked out between two queries (a transaction, retention's lock
  // connection) when the server goes away: the query in flight rejects on its own, and the 'error'
  // event must not end the process. A broken client is not reused: release() sees it ended.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/** Runs `fn` on one pooled client inside BEGIN/COMMIT (ROLLBACK when it throws). */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Runs `fn` on one pooled client in a read-only REPEATABLE READ transaction: every read sees one snapshot. */
export async function inSnapshot<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return await fn(client);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
    client.release();
  }
}
