// The admin console's accounts over any AdminStore (SQLite or PostgreSQL): users, sessions, API keys
// and failed-login backoff. The secrets live here and never reach the store: session ids and API keys
// are random 256-bit values of which only the SHA-256 is stored (a slow hash adds nothing for secrets
// with that much entropy, and a database copy cannot be replayed); passwords are scrypt-hashed.
import { createHash, randomBytes } from 'node:crypto';
import type { AdminApiKeyRecord, AdminStore, AdminUserRecord } from '../store/admin-store.js';
import { hashPassword } from './password.js';
import type { AdminApiKey } from './wire.js';
export type { AdminApiKey };

export const ADMIN_KEY_PREFIX = 'jasadm_';
export const DEFAULT_ADMIN = 'admin';

export const sha256hex = (s: string) => createHash('sha256').update(s).digest('hex');
const token = () => randomBytes(32).toString('base64url');

export interface SessionInfo {
  idHash: string;
  userId: number;
  username: string;
  expiresAt: number;
}

const toWire = (r: AdminApiKeyRecord): AdminApiKey => ({
  id: r.id,
  name: r.name,
  hint: r.hint,
  createdBy: r.createdBy,
  createdAt: r.createdAt,
  expiresAt: r.expiresAt ?? null,
  lastUsedAt: r.lastUsedAt ?? null,
  revokedAt: r.revokedAt ?? null,
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

/** Until when `failures` failures (this one included) at `t` lock a key; 0: not locked. */
export function lockUntil(p: ThrottlePolicy, t: number, failures: number): number {
  const over = failures - p.freeAttempts; // 0 on the last free failure: the next attempt waits
  return over >= 0 ? t + Math.min(p.maxLockMs, p.baseLockMs * 2 ** Math.min(over, 30)) : 0;
}

export class AdminAccounts {
  constructor(
    private readonly store: AdminStore,
    private readonly now: () => number,
    readonly throttle: ThrottlePolicy = DEFAULT_THROTTLE,
  ) {}

  // ---- users
  userCount(): Promise<number> {
    return this.store.countUsers();
  }
  findUser(username: string): Promise<AdminUserRecord | undefined> {
    return this.store.findUser(username);
  }
  /** Creates the user or replaces its password; every session of that user ends, and its login failures are forgotten. */
  async setPassword(username: string, password: string): Promise<void> {
    const passwordHash = await hashPassword(password);
    await this.store.setPasswordHash({ username, passwordHash, at: this.now(), clearFailureKeys: [`user:${username}`] });
  }

  // ---- sessions
  async createSession(userId: number, ttlSec: number, ip: string): Promise<{ sessionId: string; expiresAt: number }> {
    const sessionId = token();
    const t = this.now();
    const expiresAt = t + ttlSec * 1000;
    await this.store.createSession({ idHash: sha256hex(sessionId), userId, createdAt: t, expiresAt, ip });
    return { sessionId, expiresAt };
  }
  async findSession(sessionId: string): Promise<SessionInfo | undefined> {
    const r = await this.store.findSession(sha256hex(sessionId), this.now());
    return r && { idHash: r.idHash, userId: r.userId, username: r.username, expiresAt: r.expiresAt };
  }
  touchSession(idHash: string): Promise<void> {
    return this.store.touchSession(idHash, this.now());
  }
  deleteSession(idHash: string): Promise<void> {
    return this.store.deleteSession(idHash);
  }
  /** After a password change: every other session of the user ends. */
  deleteOtherSessions(userId: number, keepIdHash?: string): Promise<void> {
    return this.store.deleteUserSessions(userId, keepIdHash);
  }

  // ---- API keys
  async createApiKey(name: string, createdBy: string, expiresAt: number | null): Promise<{ key: string; apiKey: AdminApiKey }> {
    const key = `${ADMIN_KEY_PREFIX}${token()}`;
    const id = `ak_${randomBytes(8).toString('hex')}`;
    const t = this.now();
    const hint = key.slice(0, ADMIN_KEY_PREFIX.length + 4);
    await this.store.insertApiKey({ id, name, keyHash: sha256hex(key), hint, createdBy, createdAt: t, ...(expiresAt === null ? {} : { expiresAt }) });
    return { key, apiKey: { id, name, hint, createdBy, createdAt: t, expiresAt, lastUsedAt: null, revokedAt: null } };
  }
  async listApiKeys(): Promise<AdminApiKey[]> {
    return (await this.store.listApiKeys()).map(toWire);
  }
  /** The key if it is known, not revoked and not expired; stamps last use. */
  async useApiKey(key: string): Promise<AdminApiKey | undefined> {
    if (!key.startsWith(ADMIN_KEY_PREFIX)) return undefined;
    const r = await this.store.findApiKeyByHash(sha256hex(key));
    const t = this.now();
    if (!r || r.revokedAt !== undefined || (r.expiresAt !== undefined && r.expiresAt <= t)) return undefined;
    await this.store.touchApiKey(r.id, t);
    return toWire({ ...r, lastUsedAt: t });
  }
  /** Revokes the key (a second revoke keeps the first time); undefined when there is no such key. */
  async revokeApiKey(id: string): Promise<AdminApiKey | undefined> {
    const r = await this.store.revokeApiKey(id, this.now());
    return r && toWire(r);
  }

  // ---- failed logins
  /** Milliseconds until any of these keys may try again (0 = now). */
  async lockedForMs(keys: string[]): Promise<number> {
    const t = this.now();
    let wait = 0;
    for (const r of await this.store.getFailures(keys)) if (r.lockedUntil > t) wait = Math.max(wait, r.lockedUntil - t);
    return wait;
  }
  async recordFailure(keys: string[]): Promise<void> {
    const t = this.now();
    const p = this.throttle;
    await this.store.recordFailure(keys, { at: t, windowMs: p.windowMs, lockUntil: (failures) => lockUntil(p, t, failures) });
  }
  clearFailures(keys: string[]): Promise<void> {
    return this.store.clearFailures(keys);
  }
}
