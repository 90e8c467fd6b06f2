// Migrations on real SQLite files: in order, once, each in its own transaction; a broken one leaves
// the database exactly as it was, and the CLI names the file and the SQL error.
import { copyFileSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, dbPath } from '../../src/store/sqlite/db.js';
import { MigrationError, MIGRATIONS_DIR, listMigrations } from '../../src/store/sqlite/migrate.js';
import { ROOT, tempDir } from '../helpers/sidecar.js';

const dirs: string[] = [];
const temp = (p?: string) => {
  const d = tempDir(p);
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Schema snapshot: every object's SQL plus the applied versions, to compare "as it was". */
function snapshot(dataDir: string) {
  const db = new Database(dbPath(dataDir), { readonly: true });
  try {
    return {
      objects: db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all(),
      versions: (db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: string }>).map((r) => r.version),
    };
  } finally {
    db.close();
  }
}

/** A migrations dir holding the shipped files plus extra ones. */
function migrationsWith(extra: Record<string, string>): string {
  const dir = temp('migrations-');
  for (const f of listMigrations()) copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  for (const [name, sql] of Object.entries(extra)) writeFileSync(path.join(dir, name), sql);
  return dir;
}

const runCli = (args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), ...args], {
    env: { ...process.env, SIDECAR_CONFIG: '', SIDECAR_LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
  });

describe('migrations', () => {
  it('apply every shipped file once, in order, and record them in schema_migrations', () => {
    const data = temp();
    const { db, migrations } = openDb(data);
    db.close();
    expect(migrations!.applied).toEqual(listMigrations());
    expect(snapshot(data).versions).toEqual(listMigrations());
  });

  it('running them twice is a no-op', () => {
    const data = temp();
    openDb(data).db.close();
    const before = snapshot(data);
    const { db, migrations } = openDb(data);
    db.close();
    expect(migrations!.applied).toEqual([]);
    expect(migrations!.alreadyApplied).toBe(listMigrations().length);
    expect(snapshot(data)).toEqual(before);
  });

  it('use WAL journal mode', () => {
    const data = temp();
    const { db } = openDb(data);
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
  });

  it('a broken migration rolls back: the database is left as it was', () => {
    const data = temp();
    openDb(data).db.close();
    const before = snapshot(data);
    // The first statement would succeed on its own; the second fails, so neither may remain.
    const dir = migrationsWith({
      '9001_good.sql': 'CREATE TABLE extra_ok (id INTEGER PRIMARY KEY);',
      '9002_broken.sql': 'CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);\n',
    });
    let err: unknown;
    try {
      openDb(data, { migrationsDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as MigrationError).file).toBe('9002_broken.sql');
    expect((err as MigrationError).sqlError.message).toMatch(/no such table: no_such_table/);
    const after = snapshot(data);
    // 9001 committed in its own transaction; 9002 left nothing behind.
    expect(after.versions).toEqual([...before.versions, '9001_good.sql']);
    expect(after.objects.map((o: any) => o.name)).toContain('extra_ok');
    expect(after.objects.map((o: any) => o.name)).not.toContain('half_done');
  });

  it('a later fixed migration applies on the next start', () => {
    const data = temp();
    const dir = migrationsWith({ '9002_x.sql': 'CREATE TABLE x (id INTEGER); INSERT INTO nope VALUES (1);' });
    expect(() => openDb(data, { migrationsDir: dir })).toThrow(MigrationError);
    writeFileSync(path.join(dir, '9002_x.sql'), 'CREATE TABLE x (id INTEGER);');
    const { db, migrations } = openDb(data, { migrationsDir: dir });
    db.close();
    expect(migrations!.applied).toEqual(['9002_x.sql']);
  });

  it('files not named NNNN_name.sql are ignored', () => {
    const dir = migrationsWith({ 'README.md': 'not sql', '12_short.sql': 'garbage', '9003_Bad-Name.sql': 'garbage' });
    const data = temp();
    const { db, migrations } = openDb(data, { migrationsDir: dir });
    db.close();
    expect(migrations!.applied).toEqual(listMigrations());
  });
});

describe('jira-auth-sidecar migrate (CLI)', () => {
  it('applies pending migrations, then reports the database up to date', () => {
    const data = temp();
    const first = runCli(['migrate'], { SIDECAR_DATA_DIR: data });
    expect(first.status).toBe(0);
    expect(first.stdout).toMatch(/^applied \d+ migration\(s\): 0001_init\.sql/);
    const second = runCli(['migrate'], { SIDECAR_DATA_DIR: data });
    expect(second.status).toBe(0);
    expect(second.stdout).toBe('database is up to date\n');
  });

  it('exits non-zero naming the broken file and the SQL error, leaving the database as it was', () => {
    const data = temp();
    expect(runCli(['migrate'], { SIDECAR_DATA_DIR: data }).status).toBe(0);
    const before = snapshot(data);
    const dir = migrationsWith({ '9002_broken.sql': 'CREATE TABLE half_done (id INTEGER);\nSELEC oops;\n' });
    const r = runCli(['migrate'], { SIDECAR_DATA_DIR: data, SIDECAR_MIGRATIONS_DIR: dir });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('9002_broken.sql');
    expect(r.stderr).toMatch(/syntax error/);
    expect(snapshot(data)).toEqual(before);
  });

  it('serve refuses to start on a broken migration, naming the file', () => {
    const data = temp();
    const dir = migrationsWith({ '9002_broken.sql': 'INSERT INTO nope VALUES (1);' });
    const r = runCli(['serve'], { SIDECAR_DATA_DIR: data, SIDECAR_MIGRATIONS_DIR: dir, SIDECAR_PORT: '0', SIDECAR_ADMIN_PORT: '0', SIDECAR_HOST: '127.0.0.1' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('9002_broken.sql');
    expect(r.stderr).toContain('no such table: nope');
  });
});

// The data dir is created when missing (fresh machine, `npm start` with defaults).
describe('data dir', () => {
  it('is created with its parents', () => {
    const base = temp();
    const data = path.join(base, 'a', 'b');
    mkdirSync(base, { recursive: true });
    openDb(data).db.close();
    expect(snapshot(data).versions.length).toBeGreaterThan(0);
  });
});
