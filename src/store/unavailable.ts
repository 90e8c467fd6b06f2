// Is this error the store being out of reach (connection refused or lost, timed out, disk or
// server resources exhausted, SQLite busy or unreadable) rather than a mistake in the request
// (a constraint, a bad value)? Callers answer the first with 503, never with an allow.
const NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** SQLSTATE classes: 08 connection, 53 insufficient resources, 57 operator intervention (shutdown, statement timeout), 58 system error. */
const SQLSTATE_CLASSES = new Set(['08', '53', '57', '58']);
const SQLITE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|NOTADB|CORRUPT)/;
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection is not open|Cannot use a pool after calling end/i;

export function isStoreUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (NODE_CODES.has(code) || SQLITE.test(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && SQLSTATE_CLASSES.has(code.slice(0, 2))) return true;
  return typeof e?.message === 'string' && MESSAGES.test(e.message);
}
