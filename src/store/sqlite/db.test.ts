import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { dbPath, NEW_DB_PAGE_SIZE, openDb } from './db.js';
import { WAL_CHECKPOINT_BYTES, writerPragmas } from './audit-writer.js';

const dirs: string[] = [];
const freshDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'db-page-size-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openDb page size', () => {
  it('creates a new database with 16 KiB pages, in WAL mode, migrated', () => {
    const { db } = openDb(freshDir());
    expect(db.pragma('page_size', { simple: true })).toBe(NEW_DB_PAGE_SIZE);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'audit_log'").get()).toEqual({ n: 1 });
    db.close();
  });

  it('leaves an existing database (made with 4 KiB pages, in WAL mode) as it is: same page size, rows kept, still migrates and writes', () => {
    const dir = freshDir();
    const old = new Database(dbPath(dir));
    old.pragma('page_size = 4096');
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE kept (v TEXT)');
    old.prepare('INSERT INTO kept VALUES (?)').run('before');
    old.close();
    const { db } = openDb(dir);
    expect(db.pragma('page_size', { simple: true })).toBe(4096);
    expect(db.prepare('SELECT v FROM kept').all()).toEqual([{ v: 'before' }]);
    db.prepare('INSERT INTO kept VALUES (?)').run('after');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'audit_log'").get()).toEqual({ n: 1 });
    db.close();
    const again = openDb(dir).db;
    expect(again.pragma('page_size', { simple: true })).toBe(4096);
    expect(again.prepare('SELECT v FROM kept ORDER BY rowid').all()).toEqual([{ v: 'before' }, { v: 'after' }]);
    again.close();
  });

  it("the audit writer's checkpoint interval is ~40 MB of WAL whatever the file's page size", () => {
    const fresh = openDb(freshDir()).db;
    writerPragmas(fresh, 0);
    expect(fresh.pragma('wal_autocheckpoint', { simple: true })).toBe(2560);
    fresh.close();
    const dir = freshDir();
    const old = new Database(dbPath(dir));
    old.pragma('page_size = 4096');
    old.exec('CREATE TABLE kept (v TEXT)');
    old.close();
    const db = openDb(dir).db;
    writerPragmas(db, 0);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(10240);
    expect(10240 * 4096).toBe(WAL_CHECKPOINT_BYTES);
    db.close();
  });
});
