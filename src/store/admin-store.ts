// The admin console's accounts at rest: the interface both backends implement (sqlite/admin.ts,
// postgres/admin.ts), its records, and nothing else. Behaviour is pinned once, for both, by the
// conformance suite (test/store/conformance/admin.ts). The secrets never reach this layer: session
// ids and API keys arrive as their SHA-256, passwords as scrypt hashes, and the login backoff is a
// function handed in (admin/accounts.ts owns all three). Times are ms since the epoch.

export interface AdminUserRecord {
  id: number;
  username: string;
  /** "scrypt$N$r$p$salt$hash" (admin/password.ts). */
  passwordHash: string;
  createdAt: number;
  passwordChangedAt: number;
}

export interface NewAdminSession {
  /** SHA-256 (hex) of the session id the browser holds. */
  idHash: string;
  userId: number;
  createdAt: number;
  expiresAt: number;
  ip: string;
}

export interface AdminSessionRecord extends Omit<NewAdminSession, 'ip'> {
  /** The owner's current username. */
  username: string;
  lastSeenAt: number;
  ip?: string;
}

export interface AdminApiKeyRecord {
  /** Public id ("ak_…"); never derived from the key. */
  id: string;
  name: string;
  /** The key's first characters, so an admin can tell keys apart in a list. */
  hint: string;
  createdBy: string;
  createdAt: number;
  expiresAt?: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

/** A key to insert: its record as created, and the SHA-256 (hex) of the whole key. */
export interface NewAdminApiKey extends Omit<AdminApiKeyRecord, 'lastUsedAt' | 'revokedAt'> {
  keyHash: string;
}

/** Failed logins under one throttling key ("user:<name>", "ip:<address>"). */
export interface LoginFailureRecord {
  key: string;
  failures: number;
  firstAt: number;
  lastAt: number;
  /** The key may not try again before this time; 0: not locked. */
  lockedUntil: number;
}

export interface RecordFailureInput {
  at: number;
  /** A key whose last failure is at least this old starts again from 1 (its streak's firstAt too). */
  windowMs: number;
  /** The lock that `failures` (counted with this one) earns; 0: none. Called while the row is locked. */
  lockUntil(failures: number): number;
}

/** A session as stored (expired ones too): what `store copy` moves. */
export type AdminSessionDump = Omit<AdminSessionRecord, 'username'>;

/** A key as stored, its hash included. */
export interface AdminApiKeyDump extends AdminApiKeyRecord {
  keyHash: string;
}

/** Every row of the admin console's tables, ids and hashes as stored: what `store copy` moves. */
export interface AdminDump {
  users: AdminUserRecord[];
  sessions: AdminSessionDump[];
  apiKeys: AdminApiKeyDump[];
  loginFailures: LoginFailureRecord[];
}

export interface AdminStore {
  // ---- users
  countUsers(): Promise<number>;
  findUser(username: string): Promise<AdminUserRecord | undefined>;
  /**
   * Creates the user or replaces its password hash, and in the same transaction ends every session
   * of that user and forgets the failures under `clearFailureKeys`.
   */
  setPasswordHash(p: { username: string; passwordHash: string; at: number; clearFailureKeys?: readonly string[] }): Promise<AdminUserRecord>;

  // ---- sessions
  /** Stores a new session (last seen: its creation) and, in the same transaction, drops every session expired at `createdAt`. */
  createSession(s: NewAdminSession): Promise<void>;
  /** The session with this hash if it is still valid at `now` (expiresAt > now). */
  findSession(idHash: string, now: number): Promise<AdminSessionRecord | undefined>;
  touchSession(idHash: string, at: number): Promise<void>;
  deleteSession(idHash: string): Promise<void>;
  /** Ends every session of the user, but the one with `keepIdHash` when given. */
  deleteUserSessions(userId: number, keepIdHash?: string): Promise<void>;

  // ---- API keys
  /** Stores a new key; a duplicate id or hash is an error. */
  insertApiKey(k: NewAdminApiKey): Promise<void>;
  /** Every key, newest first (ties by id), revoked and expired ones included. */
  listApiKeys(): Promise<AdminApiKeyRecord[]>;
  /** The key with this hash whatever its state (revoked, expired: the caller decides). */
  findApiKeyByHash(keyHash: string): Promise<AdminApiKeyRecord | undefined>;
  touchApiKey(id: string, at: number): Promise<void>;
  /** Marks the key revoked at `at` unless it already is (the first time is kept); the key after that, undefined when unknown. */
  revokeApiKey(id: string, at: number): Promise<AdminApiKeyRecord | undefined>;

  // ---- failed logins
  /** The rows of these keys that exist, in no particular order. */
  getFailures(keys: readonly string[]): Promise<LoginFailureRecord[]>;
  /**
   * Counts one failure under each key, atomically per key even across replicas (concurrent calls
   * never lose a count), and in the same transaction forgets the rows, of any key, whose last
   * failure is older than the window and that are no longer locked. Returns the rows as written,
   * in the order of `keys`.
   */
  recordFailure(keys: readonly string[], input: RecordFailureInput): Promise<LoginFailureRecord[]>;
  clearFailures(keys: readonly string[]): Promise<void>;

  // ---- copying a store (store/copy.ts)
  /** Every user, session, key and failure row, each list by its key (user id, id hash, key id, failure key). */
  dump(): Promise<AdminDump>;
  /**
   * Stores a dump as it is, in one transaction: user ids are kept (sessions refer to them) and
   * later users are numbered after them. Into an empty store: a duplicate key is an error.
   */
  restore(d: AdminDump): Promise<void>;
}
