// SQLite access for the admin console: users, sessions, API keys and failed-login tracking.
// Session ids and API keys are random 256-bit values; only their SHA-256 is stored (a slow hash adds
// nothing for secrets with that much entropy, and a database copy cannot be replayed).
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/sqlite/db.js';
import { hashPassword } from './password.js';
import type { AdminApiKey } from './wire.js';
export type { AdminApiKey };

export const ADMIN_KEY_PREFIX = 'jasadm_';
export const DEFAULT_ADMIN = 'admin';

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const token = () => randomBytes(32).toString('base64url');

export interface AdminUser {
  id: number;
  username: string;
  passwordHash: string;
}

export interface SessionInfo {
  idHash: string;
  userId: number;
  username: string;
  expiresAt: number;
}

interface KeyRow {
  id: string;
  name: string;
  hint: string;
  created_by: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
  revoked_at: number | null;
}
const toKey = (r: KeyRow): AdminApiKey => ({
  id: r.id,
  name: r.name,
  hint: r.hint,
  createdBy: r.created_by,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

/** Backoff after failed logins: after `freeAttempts` failures a lock that doubles per further failure, capped. */
export interface ThrottlePolicy {
  freeAttempts: number;
  baseLockMs: number;
  maxLockMs: number;
  /** Failures older than this are forgotten. */
  windowMs: number;
}
export const DEFAULT_THROTTLE: ThrottlePolicy = { freeAttempts: 5, baseLockMs: 30_000, maxLockMs: 15 * 60_000, windowMs: 15 * 60_000 };

export class AdminStore {
  constructor(
    private readonly db: Db,
    private readonly now: () => number,
    readonly throttle: ThrottlePolicy = DEFAULT_THROTTLE,
  ) {}

  // ---- users
  userCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM admin_users').get() as { n: number }).n;
  }
  findUser(username: string): AdminUser | undefined {
    const r = this.db.prepare('SELECT id, username, password_hash FROM admin_users WHERE username = ?').get(username) as
      | { id: number; username: string; password_hash: string }
      | undefined;
    return r && { id: r.id, username: r.username, passwordHash: r.password_hash };
  }
  /** Creates the user or replaces its password; every session of that user ends. */
  async setPassword(username: string, password: string): Promise<void> {
    const hash = await hashPassword(password);
    const t = this.now();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO admin_users (username, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?)
           ON CONFLICT(username) DO UPDATE SET password_hash = excluded.password_hash, password_changed_at = excluded.password_changed_at`,
        )
        .run(username, hash, t, t);
      this.db.prepare('DELETE FROM admin_sessions WHERE user_id = (SELECT id FROM admin_users WHERE username = ?)').run(username);
      this.db.prepare('DELETE FROM admin_login_failures WHERE key = ?').run(`user:${username}`);
    })();
  }

  // ---- sessions
  createSession(userId: number, ttlSec: number, ip: string): { sessionId: string; expiresAt: number } {
    const sessionId = token();
    const t = this.now();
    const expiresAt = t + ttlSec * 1000;
    this.db.prepare('DELETE FROM admin_sessions WHERE expires_at <= ?').run(t);
    this.db
      .prepare('INSERT INTO admin_sessions (id_hash, user_id, created_at, last_seen_at, expires_at, ip) VALUES (?, ?, ?, ?, ?, ?)')
      .run(sha256hex(sessionId), userId, t, t, expiresAt, ip);
    return { sessionId, expiresAt };
  }
  findSession(sessionId: string): SessionInfo | undefined {
    const r = this.db
      .prepare(
        `SELECT s.id_hash, s.user_id, s.expires_at, u.username FROM admin_sessions s JOIN admin_users u ON u.id = s.user_id
         WHERE s.id_hash = ? AND s.expires_at > ?`,
      )
      .get(sha256hex(sessionId), this.now()) as { id_hash: string; user_id: number; expires_at: number; username: string } | undefined;
    return r && { idHash: r.id_hash, userId: r.user_id, username: r.username, expiresAt: r.expires_at };
  }
  touchSession(idHash: string): void {
    this.db.prepare('UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ?').run(this.now(), idHash);
  }
  deleteSession(idHash: string): void {
    this.db.prepare('DELETE FROM admin_sessions WHERE id_hash = ?').run(idHash);
  }
  /** After a password change: every other session of the user ends. */
  deleteOtherSessions(userId: number, keepIdHash?: string): void {
    this.db.prepare('DELETE FROM admin_sessions WHERE user_id = ? AND id_hash != ?').run(userId, keepIdHash ?? '');
  }

  // ---- API keys
  createApiKey(name: string, createdBy: string, expiresAt: number | null): { key: string; apiKey: AdminApiKey } {
    const key = `${ADMIN_KEY_PREFIX}${token()}`;
    const id = `ak_${randomBytes(8).toString('hex')}`;
    const t = this.now();
    const hint = key.slice(0, ADMIN_KEY_PREFIX.length + 4);
    this.db
      .prepare('INSERT INTO admin_api_keys (id, name, key_hash, hint, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, name, sha256hex(key), hint, createdBy, t, expiresAt);
    return { key, apiKey: { id, name, hint, createdBy, createdAt: t, expiresAt, lastUsedAt: null, revokedAt: null } };
  }
  listApiKeys(): AdminApiKey[] {
    return (this.db.prepare('SELECT * FROM admin_api_keys ORDER BY created_at DESC').all() as KeyRow[]).map(toKey);
  }
  /** The key if it is known, not revoked and not expired; stamps last use. */
  useApiKey(key: string): AdminApiKey | undefined {
    if (!key.startsWith(ADMIN_KEY_PREFIX)) return undefined;
    const r = this.db.prepare('SELECT * FROM admin_api_keys WHERE key_hash = ?').get(sha256hex(key)) as KeyRow | undefined;
    const t = this.now();
    if (!r || r.revoked_at !== null || (r.expires_at !== null && r.expires_at <= t)) return undefined;
    this.db.prepare('UPDATE admin_api_keys SET last_used_at = ? WHERE id = ?').run(t, r.id);
    return toKey({ ...r, last_used_at: t });
  }
  revokeApiKey(id: string): AdminApiKey | undefined {
    this.db.prepare('UPDATE admin_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(this.now(), id);
    const r = this.db.prepare('SELECT * FROM admin_api_keys WHERE id = ?').get(id) as KeyRow | undefined;
    return r && toKey(r);
  }

  // ---- failed logins
  /** Milliseconds until any of these keys may try again (0 = now). */
  lockedForMs(keys: string[]): number {
    const t = this.now();
    let wait = 0;
    for (const k of keys) {
      const r = this.db.prepare('SELECT locked_until, last_at FROM admin_login_failures WHERE key = ?').get(k) as
        | { locked_until: number; last_at: number }
        | undefined;
      if (r && r.locked_until > t) wait = Math.max(wait, r.locked_until - t);
    }
    return wait;
  }
  recordFailure(keys: string[]): void {
    const t = this.now();
    const p = this.throttle;
    this.db.transaction(() => {
      // Forget stale rows so guessing many usernames cannot grow the table without bound.
      this.db.prepare('DELETE FROM admin_login_failures WHERE last_at < ? AND locked_until < ?').run(t - p.windowMs, t);
      for (const k of keys) {
        const r = this.db.prepare('SELECT failures, last_at FROM admin_login_failures WHERE key = ?').get(k) as
          | { failures: number; last_at: number }
          | undefined;
        const failures = r && t - r.last_at < p.windowMs ? r.failures + 1 : 1;
        const over = failures - p.freeAttempts; // 0 on the last free failure: the next attempt waits
        const lockedUntil = over >= 0 ? t + Math.min(p.maxLockMs, p.baseLockMs * 2 ** Math.min(over, 30)) : 0;
        this.db
          .prepare(
            `INSERT INTO admin_login_failures (key, failures, first_at, last_at, locked_until) VALUES (?, ?, ?, ?, ?)
             ON CONFLICT(key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, locked_until = excluded.locked_until`,
          )
          .run(k, failures, t, t, lockedUntil);
      }
    })();
  }
  clearFailures(keys: string[]): void {
    for (const k of keys) this.db.prepare('DELETE FROM admin_login_failures WHERE key = ?').run(k);
  }
}
