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

export function createPool(o: PostgresOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: o.url,
    max: o.poolSize ?? 10,
    statement_timeout: o.statementTimeoutMs ?? 5000,
    connectionTimeoutMillis: o.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    ...(o.caFile ? { ssl: { ca: readFileSync(o.caFile, 'utf8'), rejectUnauthorized: true } } : {}),
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
