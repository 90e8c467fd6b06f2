import { describe, expect, it } from 'vitest';
import { writeErrorKind } from './audit-writer.js';

// The worker reports a kind, not an Error: the main side's counters and readiness depend on it.
describe('writeErrorKind', () => {
  it.each([
    ['SQLITE_BUSY', 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'busy'],
    ['SQLITE_LOCKED', 'busy'],
    ['SQLITE_FULL', 'storage_full'],
    ['ENOSPC', 'storage_full'],
    ['SQLITE_IOERR_WRITE', 'write_failed'],
    ['SQLITE_CONSTRAINT_TRIGGER', 'write_failed'],
    [undefined, 'write_failed'],
  ])('%s -> %s', (code, kind) => {
    expect(writeErrorKind(Object.assign(new Error('x'), { code }))).toBe(kind);
  });
});
