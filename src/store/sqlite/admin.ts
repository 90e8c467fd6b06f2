// AdminStore on SQLite (better-sqlite3): prepared statements; every multi-statement write in one
// db.transaction.
import type { Statement } from 'better-sqlite3';
import type {
  AdminApiKeyDump,
  AdminApiKeyRecord,
  AdminDump,
  AdminSessionDump,
  AdminSessionRecord,
  AdminStore,
  AdminUserRecord,
  LoginFailureRecord,
  NewAdminApiKey,
  NewAdminSession,
  RecordFailureInput,
} from '../admin-store.js';
import type { Db } from './db.js';

export interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  created_at: number;
  password_changed_at: number;
}
export interface SessionRow {
  id_hash: string;
  user_id: number;
  username: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  ip: string | null;
}
/** An admin_api_keys row without key_hash. */
export interface KeyRow {
  id: string;
  name: string;
  hint: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}
export interface FailureRow {
  key: string;
  failures: number;
  first_at: number;
  last_at: number;
  locked_until: number;
}

export const USER_COLUMNS = 'id, username, password_hash, created_at, password_changed_at';
export const SESSION_COLUMNS = 's.id_hash, s.user_id, u.username, s.created_at, s.last_seen_at, s.expires_at, s.ip';
// Every column but key_hash: the hash only ever goes in.
export const KEY_COLUMNS = 'id, name, hint, created_by, created_at, expires_at, last_used_at, revoked_at';
export const FAILURE_COLUMNS = 'key, failures, first_at, last_at, locked_until';
/** A session row as a dump has it: its user by id, not by name. */
export const SESSION_DUMP_COLUMNS = 'id_hash, user_id, created_at, last_seen_at, expires_at, ip';

/**
 * One failure more, counted in the statement itself rather than read and written back, which would
 * lose counts between replicas (a failure outside the window starts again from 1, and so does the
 * streak's first_at). The lock is written next in the same transaction, while the row is still locked.
 * `p`: how the dialect spells the parameters key, at and windowMs.
 */
export const countFailureSql = (p: [string, string, string]) =>
  `INSERT INTO admin_login_failures (key, failures, first_at, last_at, locked_until) VALUES (${p[0]}, 1, ${p[1]}, ${p[1]}, 0)
   ON CONFLICT (key) DO UPDATE SET
     failures = CASE WHEN excluded.last_at - admin_login_failures.last_at < ${p[2]} THEN admin_login_failures.failures + 1 ELSE 1 END,
     first_at = CASE WHEN excluded.last_at - admin_login_failures.last_at < ${p[2]} THEN admin_login_failures.first_at ELSE excluded.first_at END,
     last_at = excluded.last_at
   RETURNING ${FAILURE_COLUMNS}`;

export const userRecordOf = (r: UserRow): AdminUserRecord => ({
  id: r.id,
  username: r.username,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  passwordChangedAt: r.password_changed_at,
});

export function sessionRecordOf(r: SessionRow): AdminSessionRecord {
  const rec: AdminSessionRecord = {
    idHash: r.id_hash,
    userId: r.user_id,
    username: r.username,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
  };
  if (r.ip !== null) rec.ip = r.ip;
  return rec;
}

export function sessionDumpOf(r: Omit<SessionRow, 'username'>): AdminSessionDump {
  const { username: _, ...rec } = sessionRecordOf({ ...r, username: '' });
  return rec;
}

export function keyRecordOf(r: KeyRow): AdminApiKeyRecord {
  const rec: AdminApiKeyRecord = { id: r.id, name: r.name, hint: r.hint, createdBy: r.created_by, createdAt: r.created_at };
  if (r.expires_at !== null) rec.expiresAt = r.expires_at;
  if (r.last_used_at !== null) rec.lastUsedAt = r.last_used_at;
  if (r.revoked_at !== null) rec.revokedAt = r.revoked_at;
  return rec;
}

export const failureRecordOf = (r: FailureRow): LoginFailureRecord => ({
  key: r.key,
  failures: r.failures,
  firstAt: r.first_at,
  lastAt: r.last_at,
  lockedUntil: r.locked_until,
});

/** A dumped key as its row's columns, in KEY_COLUMNS order and then key_hash. */
export const keyColumnsOf = (k: AdminApiKeyDump) =>
  [k.id, k.name, k.hint, k.createdBy, k.createdAt, k.expiresAt ?? null, k.lastUsedAt ?? null, k.revokedAt ?? null, k.keyHash] as const;

export class SqliteAdminStore implements AdminStore {
  private readonly stmt: {
    countUsers: Statement<[]>;
    userByName: Statement<[string]>;
    upsertUser: Statement<[string, string, number, number]>;
    deleteUserSessions: Statement<[number, string]>;
    deleteFailures: Statement<[string]>;
    deleteExpiredSessions: Statement<[number]>;
    insertSession: Statement<[string, number, number, number, number, string]>;
    session: Statement<[string, number]>;
    touchSession: Statement<[number, string]>;
    deleteSession: Statement<[string]>;
    insertKey: Statement<[string, string, string, string, string, number, number | null]>;
    keys: Statement<[]>;
    keyByHash: Statement<[string]>;
    touchKey: Statement<[number, string]>;
    revokeKey: Statement<[number, string]>;
    failures: Statement<[string]>;
    countFailure: Statement<[{ key: string; at: number; windowMs: number }]>;
    lockFailure: Statement<[number, string]>;
    forgetStaleFailures: Statement<[number, number]>;
  };

  constructor(private readonly db: Db) {
    this.stmt = {
      countUsers: db.prepare('SELECT count(*) AS n FROM admin_users'),
      userByName: db.prepare(`SELECT ${USER_COLUMNS} FROM admin_users WHERE username = ?`),
      upsertUser: db.prepare(
        `INSERT INTO admin_users (username, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at
         RETURNING ${USER_COLUMNS}`,
      ),
      deleteUserSessions: db.prepare('DELETE FROM admin_sessions WHERE user_id = ? AND id_hash != ?'),
      deleteFailures: db.prepare('DELETE FROM admin_login_failures WHERE key IN (SELECT value FROM json_each(?))'),
      deleteExpiredSessions: db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?'),
      insertSession: db.prepare('INSERT INTO admin_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip) VALUES (?, ?, ?, ?, ?, ?)'),
      session: db.prepare(`SELECT ${SESSION_COLUMNS} FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id WHERE s.id_hash = ? AND s.expires_at > ?`),
      touchSession: db.prepare('UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?'),
      deleteSession: db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?'),
      insertKey: db.prepare('INSERT INTO admin_api_keys (id, name, key_hash, hint, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      keys: db.prepare(`SELECT ${KEY_COLUMNS} FROM admin_api_keys ORDER BY created_at DESC, id`),
      keyByHash: db.prepare(`SELECT ${KEY_COLUMNS} FROM admin_api_keys WHERE key_hash = ?`),
      touchKey: db.prepare('UPDATE admin_api_keys SET last_used_at = ? WHERE id = ?'),
      revokeKey: db.prepare(`UPDATE admin_api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING ${KEY_COLUMNS}`),
      failures: db.prepare(`SELECT ${FAILURE_COLUMNS} FROM admin_login_failures WHERE key IN (SELECT value FROM json_each(?))`),
      countFailure: db.prepare(countFailureSql(['@key', '@at', '@windowMs'])),
      lockFailure: db.prepare('UPDATE admin_login_failures SET locked_until = ? WHERE key = ?'),
      forgetStaleFailures: db.prepare('DELETE FROM admin_login_failures WHERE last_at < ? AND locked_until < ?'),
    };
  }

  async countUsers(): Promise<number> {
    return (this.stmt.countUsers.get() as { n: number }).n;
  }

  async findUser(username: string): Promise<AdminUserRecord | undefined> {
    const r = this.stmt.userByName.get(username) as UserRow | undefined;
    return r && userRecordOf(r);
  }

  async setPasswordHash(p: { username: string; passwordHash: string; at: number; clearFailureKeys?: readonly string[] }): Promise<AdminUserRecord> {
    return this.db.transaction(() => {
      const user = this.stmt.upsertUser.get(p.username, p.passwordHash, p.at, p.at) as UserRow;
      this.stmt.deleteUserSessions.run(user.id, '');
      this.stmt.deleteFailures.run(JSON.stringify(p.clearFailureKeys ?? []));
      return userRecordOf(user);
    })();
  }

  async createSession(s: NewAdminSession): Promise<void> {
    this.db.transaction(() => {
      this.stmt.deleteExpiredSessions.run(s.createdAt);
      this.stmt.insertSession.run(s.idHash, s.userId, s.createdAt, s.createdAt, s.expiresAt, s.ip);
    })();
  }

  async findSession(idHash: string, now: number): Promise<AdminSessionRecord | undefined> {
    const r = this.stmt.session.get(idHash, now) as SessionRow | undefined;
    return r && sessionRecordOf(r);
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    this.stmt.touchSession.run(at, idHash);
  }

  async deleteSession(idHash: string): Promise<void> {
    this.stmt.deleteSession.run(idHash);
  }

  async deleteUserSessions(userId: number, keepIdHash?: string): Promise<void> {
    this.stmt.deleteUserSessions.run(userId, keepIdHash ?? '');
  }

  async insertApiKey(k: NewAdminApiKey): Promise<void> {
    this.stmt.insertKey.run(k.id, k.name, k.keyHash, k.hint, k.createdBy, k.createdAt, k.expiresAt ?? null);
  }

  async listApiKeys(): Promise<AdminApiKeyRecord[]> {
    return (this.stmt.keys.all() as KeyRow[]).map(keyRecordOf);
  }

  async findApiKeyByHash(keyHash: string): Promise<AdminApiKeyRecord | undefined> {
    const r = this.stmt.keyByHash.get(keyHash) as KeyRow | undefined;
    return r && keyRecordOf(r);
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    this.stmt.touchKey.run(at, id);
  }

  async revokeApiKey(id: string, at: number): Promise<AdminApiKeyRecord | undefined> {
    const r = this.stmt.revokeKey.get(at, id) as KeyRow | undefined;
    return r && keyRecordOf(r);
  }

  async getFailures(keys: readonly string[]): Promise<LoginFailureRecord[]> {
    return (this.stmt.failures.all(JSON.stringify(keys)) as FailureRow[]).map(failureRecordOf);
  }

  async recordFailure(keys: readonly string[], input: RecordFailureInput): Promise<LoginFailureRecord[]> {
    return this.db.transaction(() => {
      const written = new Map<string, LoginFailureRecord>();
      for (const key of [...keys].sort()) {
        const row = failureRecordOf(this.stmt.countFailure.get({ key, at: input.at, windowMs: input.windowMs }) as FailureRow);
        row.lockedUntil = input.lockUntil(row.failures);
        this.stmt.lockFailure.run(row.lockedUntil, key);
        written.set(key, row);
      }
      // Forget stale rows so guessing many usernames cannot grow the table without bound.
      this.stmt.forgetStaleFailures.run(input.at - input.windowMs, input.at);
      return keys.map((k) => written.get(k)!);
    })();
  }

  async clearFailures(keys: readonly string[]): Promise<void> {
    this.stmt.deleteFailures.run(JSON.stringify(keys));
  }

  async dump(): Promise<AdminDump> {
    // One read transaction: a session is never dumped without the user it refers to.
    return this.db.transaction(() => ({
      users: (this.db.prepare(`SELECT ${USER_COLUMNS} FROM admin_users ORDER BY id`).all() as UserRow[]).map(userRecordOf),
      sessions: (this.db.prepare(`SELECT ${SESSION_DUMP_COLUMNS} FROM admin_sessions ORDER BY id_hash`).all() as Array<Omit<SessionRow, 'username'>>).map(sessionDumpOf),
      apiKeys: (this.db.prepare(`SELECT ${KEY_COLUMNS}, key_hash FROM admin_api_keys ORDER BY id`).all() as Array<KeyRow & { key_hash: string }>).map((r) => ({
        ...keyRecordOf(r),
        keyHash: r.key_hash,
      })),
      loginFailures: (this.db.prepare(`SELECT ${FAILURE_COLUMNS} FROM admin_login_failures ORDER BY key`).all() as FailureRow[]).map(failureRecordOf),
    }))();
  }

  async restore(d: AdminDump): Promise<void> {
    const user = this.db.prepare(`INSERT INTO admin_users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?)`);
    const session = this.db.prepare(`INSERT INTO admin_sessions (${SESSION_DUMP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`);
    const key = this.db.prepare(`INSERT INTO admin_api_keys (${KEY_COLUMNS}, key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    const failure = this.db.prepare(`INSERT INTO admin_login_failures (${FAILURE_COLUMNS}) VALUES (?, ?, ?, ?, ?)`);
    // An explicit id moves AUTOINCREMENT's counter past it: the next new user gets a fresh id.
    this.db.transaction(() => {
      for (const u of d.users) user.run(u.id, u.username, u.passwordHash, u.createdAt, u.passwordChangedAt);
      for (const s of d.sessions) session.run(s.idHash, s.userId, s.createdAt, s.lastSeenAt, s.expiresAt, s.ip ?? null);
      for (const k of d.apiKeys) key.run(...keyColumnsOf(k));
      for (const f of d.loginFailures) failure.run(f.key, f.failures, f.firstAt, f.lastAt, f.lockedUntil);
    })();
  }
}
