// AdminStore on PostgreSQL: the same statements as sqlite/admin.ts; every multi-statement write
// runs in BEGIN/COMMIT on one pooled client. Replicas count failed logins on the same rows: the
// count is an upsert whose row lock is held until COMMIT, so no failure is ever lost between them.
import type pg from 'pg';
import type {
  AdminApiKeyRecord,
  AdminDump,
  AdminSessionRecord,
  AdminStore,
  AdminUserRecord,
  LoginFailureRecord,
  NewAdminApiKey,
  NewAdminSession,
  RecordFailureInput,
} from '../admin-store.js';
import {
  countFailureSql,
  FAILURE_COLUMNS,
  failureRecordOf,
  KEY_COLUMNS,
  keyColumnsOf,
  keyRecordOf,
  SESSION_COLUMNS,
  SESSION_DUMP_COLUMNS,
  sessionDumpOf,
  sessionRecordOf,
  USER_COLUMNS,
  userRecordOf,
  type FailureRow,
  type KeyRow,
  type SessionRow,
  type UserRow,
} from '../sqlite/admin.js';
import { inSnapshot, inTransaction } from './pool.js';

const COUNT_FAILURE = countFailureSql(['$1', '$2', '$3']);

export class PgAdminStore implements AdminStore {
  constructor(private readonly pool: pg.Pool) {}

  async countUsers(): Promise<number> {
    return (await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM admin_users')).rows[0]!.n;
  }

  async findUser(username: string): Promise<AdminUserRecord | undefined> {
    const r = (await this.pool.query<UserRow>(`SELECT ${USER_COLUMNS} FROM admin_users WHERE username = $1`, [username])).rows[0];
    return r && userRecordOf(r);
  }

  async setPasswordHash(p: { username: string; passwordHash: string; at: number; clearFailureKeys?: readonly string[] }): Promise<AdminUserRecord> {
    return inTransaction(this.pool, async (c) => {
      const user = (
        await c.query<UserRow>(
          `INSERT INTO admin_users (username, password_hash, created_at, password_changed_at) VALUES ($1, $2, $3, $3)
           ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at
           RETURNING ${USER_COLUMNS}`,
          [p.username, p.passwordHash, p.at],
        )
      ).rows[0]!;
      await c.query('DELETE FROM admin_sessions WHERE user_id = $1', [user.id]);
      await c.query('DELETE FROM admin_login_failures WHERE key = ANY($1)', [p.clearFailureKeys ?? []]);
      return userRecordOf(user);
    });
  }

  async createSession(s: NewAdminSession): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query('DELETE FROM admin_sessions WHERE expires_at <= $1', [s.createdAt]);
      await c.query('INSERT INTO admin_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip) VALUES ($1, $2, $3, $3, $4, $5)', [
        s.idHash,
        s.userId,
        s.createdAt,
        s.expiresAt,
        s.ip,
      ]);
    });
  }

  async findSession(idHash: string, now: number): Promise<AdminSessionRecord | undefined> {
    const r = (
      await this.pool.query<SessionRow>(
        `SELECT ${SESSION_COLUMNS} FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2`,
        [idHash, now],
      )
    ).rows[0];
    return r && sessionRecordOf(r);
  }

  async touchSession(idHash: string, at: number): Promise<void> {
    await this.pool.query('UPDATE admin_sessions SET last_seen_at = $1 WHERE id_hash = $2', [at, idHash]);
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.pool.query('DELETE FROM admin_sessions WHERE id_hash = $1', [idHash]);
  }

  async deleteUserSessions(userId: number, keepIdHash?: string): Promise<void> {
    await this.pool.query('DELETE FROM admin_sessions WHERE user_id = $1 AND id_hash != $2', [userId, keepIdHash ?? '']);
  }

  async insertApiKey(k: NewAdminApiKey): Promise<void> {
    await this.pool.query('INSERT INTO admin_api_keys (id, name, key_hash, hint, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
      k.id,
      k.name,
      k.keyHash,
      k.hint,
      k.createdBy,
      k.createdAt,
      k.expiresAt ?? null,
    ]);
  }

  async listApiKeys(): Promise<AdminApiKeyRecord[]> {
    return (await this.pool.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM admin_api_keys ORDER BY created_at DESC, id COLLATE "C"`)).rows.map(keyRecordOf);
  }

  async findApiKeyByHash(keyHash: string): Promise<AdminApiKeyRecord | undefined> {
    const r = (await this.pool.query<KeyRow>(`SELECT ${KEY_COLUMNS} FROM admin_api_keys WHERE key_hash = $1`, [keyHash])).rows[0];
    return r && keyRecordOf(r);
  }

  async touchApiKey(id: string, at: number): Promise<void> {
    await this.pool.query('UPDATE admin_api_keys SET last_used_at = $1 WHERE id = $2', [at, id]);
  }

  async revokeApiKey(id: string, at: number): Promise<AdminApiKeyRecord | undefined> {
    const r = (await this.pool.query<KeyRow>(`UPDATE admin_api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2 RETURNING ${KEY_COLUMNS}`, [at, id])).rows[0];
    return r && keyRecordOf(r);
  }

  async getFailures(keys: readonly string[]): Promise<LoginFailureRecord[]> {
    return (await this.pool.query<FailureRow>(`SELECT ${FAILURE_COLUMNS} FROM admin_login_failures WHERE key = ANY($1)`, [keys])).rows.map(failureRecordOf);
  }

  async recordFailure(keys: readonly string[], input: RecordFailureInput): Promise<LoginFailureRecord[]> {
    return inTransaction(this.pool, async (c) => {
      const written = new Map<string, LoginFailureRecord>();
      // Rows are locked in one order (sorted keys) by every caller, so two logins never deadlock.
      for (const key of [...keys].sort()) {
        const row = failureRecordOf((await c.query<FailureRow>(COUNT_FAILURE, [key, input.at, input.windowMs])).rows[0]!);
        row.lockedUntil = input.lockUntil(row.failures);
        await c.query('UPDATE admin_login_failures SET locked_until = $1 WHERE key = $2', [row.lockedUntil, key]);
        written.set(key, row);
      }
      // Forget stale rows so guessing many usernames cannot grow the table without bound. Last, and
      // skipping rows another login holds: a transaction that waits never holds rows taken here.
      await c.query(
        `DELETE FROM admin_login_failures WHERE key IN (
           SELECT key FROM admin_login_failures WHERE last_at < $1 AND locked_until < $2 FOR UPDATE SKIP LOCKED)`,
        [input.at - input.windowMs, input.at],
      );
      return keys.map((k) => written.get(k)!);
    });
  }

  async clearFailures(keys: readonly string[]): Promise<void> {
    await this.pool.query('DELETE FROM admin_login_failures WHERE key = ANY($1)', [keys]);
  }

  async dump(): Promise<AdminDump> {
    // One snapshot: a session is never dumped without the user it refers to. Text keys in byte order, as on SQLite.
    return inSnapshot(this.pool, async (c) => ({
      users: (await c.query<UserRow>(`SELECT ${USER_COLUMNS} FROM admin_users ORDER BY id`)).rows.map(userRecordOf),
      sessions: (await c.query<Omit<SessionRow, 'username'>>(`SELECT ${SESSION_DUMP_COLUMNS} FROM admin_sessions ORDER BY id_hash COLLATE "C"`)).rows.map(sessionDumpOf),
      apiKeys: (await c.query<KeyRow & { key_hash: string }>(`SELECT ${KEY_COLUMNS}, key_hash FROM admin_api_keys ORDER BY id COLLATE "C"`)).rows.map((r) => ({
        ...keyRecordOf(r),
        keyHash: r.key_hash,
      })),
      loginFailures: (await c.query<FailureRow>(`SELECT ${FAILURE_COLUMNS} FROM admin_login_failures ORDER BY key COLLATE "C"`)).rows.map(failureRecordOf),
    }));
  }

  async restore(d: AdminDump): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      for (const u of d.users) {
        // The ids are kept (sessions refer to them): an identity column takes one only when told to.
        await c.query(`INSERT INTO admin_users (${USER_COLUMNS}) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5)`, [
          u.id,
          u.username,
          u.passwordHash,
          u.createdAt,
          u.passwordChangedAt,
        ]);
      }
      // ...and unlike SQLite's AUTOINCREMENT, its sequence does not move past them by itself.
      if (d.users.length) await c.query(`SELECT setval(pg_get_serial_sequence('admin_users', 'id'), (SELECT max(id) FROM admin_users))`);
      for (const s of d.sessions) {
        await c.query(`INSERT INTO admin_sessions (${SESSION_DUMP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`, [
          s.idHash,
          s.userId,
          s.createdAt,
          s.lastSeenAt,
          s.expiresAt,
          s.ip ?? null,
        ]);
      }
      for (const k of d.apiKeys) await c.query(`INSERT INTO admin_api_keys (${KEY_COLUMNS}, key_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [...keyColumnsOf(k)]);
      for (const f of d.loginFailures) {
        await c.query(`INSERT INTO admin_login_failures (${FAILURE_COLUMNS}) VALUES ($1, $2, $3, $4, $5)`, [f.key, f.failures, f.firstAt, f.lastAt, f.lockedUntil]);
      }
    });
  }
}
