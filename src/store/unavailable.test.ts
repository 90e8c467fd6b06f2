import { describe, expect, it } from 'vitest';
import { isStoreUnavailable } from './unavailable.js';

const err = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isStoreUnavailable: out of reach, not a mistake', () => {
  it.each([
    ['connection refused', err('ECONNREFUSED')],
    ['connection reset', err('ECONNRESET')],
    ['PostgreSQL shut down (57P01)', err('57P01')],
    ['statement timeout (57014)', err('57014')],
    ['too many connections (53300)', err('53300')],
    ['connection failure (08006)', err('08006')],
    ['SQLite busy', err('SQLITE_BUSY')],
    ['SQLite disk I/O', err('SQLITE_IOERR_WRITE')],
    ['pg: connection lost', new Error('Connection terminated unexpectedly')],
    ['pg: connect timeout', new Error('timeout exceeded when trying to connect')],
    ['better-sqlite3: closed', new TypeError('The database connection is not open')],
  ])('%s', (_n, e) => expect(isStoreUnavailable(e)).toBe(true));

  it.each([
    ['unique violation (23505)', err('23505')],
    ['syntax error (42601)', err('42601')],
    ['SQLite constraint', err('SQLITE_CONSTRAINT_UNIQUE')],
    ['a plain bug', new Error('undefined is not a function')],
    ['not an error', 'oops'],
    ['null', null],
  ])('%s is not', (_n, e) => expect(isStoreUnavailable(e)).toBe(false));
});
