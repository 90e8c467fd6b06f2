// Our API tokens in SQLite. Only sha256(token) is stored (see migrations/0002_api_tokens.sql for why
// no salt/KDF); the secret exists once, in create()'s return value. Lookups go through a prepared
// statement on the unique hash index on every request, so a revocation (from this process, the CLI
// or another replica on the same file) takes effect on the next request: nothing positive is cached.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { systemClock, type Clock } from '../clock.js';
import { pathPattern } from '../config/schema.js';
import { isValidCidr } from '../config/validate.js';
import { generateApiToken } from '../pipeline/credentials/api-token-format.js';
import { apiTokenStatus, DAY_MS, effectiveExpiry } from '../pipeline/verify/api-token/status.js';
import type { ApiTokenGrant, ApiTokenView, TokenAccess } from '../admin/wire.js';
export type { ApiTokenView, TokenAccess };

/** A stored token: what it grants, and its times as ms since the epoch (absent when never set). */
export interface ApiTokenRecord extends ApiTokenGrant {
  rateLimit?: { points: number; durationSec: number };
  createdAt: number;
  expiresAt: number;
  lastUsedAt?: number;
  lastUsedIp?: string;
  revokedAt?: number;
}

export interface CreateTokenInput {
  owner: string;
  name: string;
  access?: TokenAccess;
  paths?: string[];
  groups?: string[];
  ipAllowlist?: string[];
  rateLimit?: { points: number; durationSec: number };
  /** Lifetime in days; default and upper bound: maxLifetimeDays. */
  days?: number;
  createdBy: string;
}

/** The apiTokens settings create() needs (taken from the policy current at that moment). */
export interface TokenSettings {
  prefix: string;
  maxLifetimeDays: number;
}

export interface CreatedToken {
  id: string;
  /** The secret: shown to the caller once, never stored, logged or returned again. */
  token: string;
  record: ApiTokenRecord;
  /** True when the requested days exceeded maxLifetimeDays and the expiry was capped. */
  capped: boolean;
}

/** A bad create() input; `field` names the offending input (CLI flag / JSON field). */
export class TokenInputError extends Error {
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

interface Row {
  id: string;
  token_hash: string;
  owner: string;
  name: string;
  access: TokenAccess;
  paths: string;
  groups: string;
  ip_allowlist: string;
  rate_limit: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  last_used_ip: string | null;
  revoked_at: number | null;
  created_by: string;
}

// Every column but token_hash: the hash never leaves this file except for the constant-time compare.
const COLUMNS = 'id, owner, name, access, paths, groups, ip_allowlist, rate_limit, created_at, expires_at, last_used_at, last_used_ip, revoked_at, created_by';

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

const USERNAME = /^[^\s\x00-\x1f\x7f]{1,255}$/;
const NAME = /^[^\x00-\x1f\x7f]{1,100}$/;

function checkList(field: string, values: string[] | undefined, valid: (s: string) => boolean, what: string, max = 100): string[] {
  const list = values ?? [];
  if (!Array.isArray(list) || list.length > max) throw new TokenInputError(field, `must be a list of at most ${max} entries`);
  for (const v of list) if (typeof v !== 'string' || !valid(v)) throw new TokenInputError(field, `${JSON.stringify(v)} is not ${what}`);
  return [...new Set(list)];
}

function toRecord(r: Omit<Row, 'token_hash'>): ApiTokenRecord {
  const rec: ApiTokenRecord = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    access: r.access,
    paths: JSON.parse(r.paths) as string[],
    groups: JSON.parse(r.groups) as string[],
    ipAllowlist: JSON.parse(r.ip_allowlist) as string[],
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    createdBy: r.created_by,
  };
  if (r.rate_limit) rec.rateLimit = JSON.parse(r.rate_limit) as ApiTokenRecord['rateLimit'];
  if (r.last_used_at !== null) rec.lastUsedAt = r.last_used_at;
  if (r.last_used_ip !== null) rec.lastUsedIp = r.last_used_ip;
  if (r.revoked_at !== null) rec.revokedAt = r.revoked_at;
  return rec;
}

export interface TokenStoreOptions {
  clock?: Clock;
  /**
   * Last-used stamps are kept in memory and written in one batched transaction at most this often
   * (so at most one write per token per interval, never a write on the request path). Readers in
   * this process (list/get) see the pending values at once; other processes (the CLI) see them up
   * to this late. Default 60 s.
   */
  touchFlushMs?: number;
  /** A failed background flush (e.g. SQLITE_BUSY): the stamps stay pending for the next one. */
  onFlushError?: (err: unknown) => void;
}

export class TokenStore {
  private readonly clock: Clock;
  private readonly touchFlushMs: number;
  private readonly onFlushError: (err: unknown) => void;
  private readonly pending = new Map<string, { at: number; ip: string }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly stmt: {
    insert: Statement;
    byHash: Statement<[string]>;
    byId: Statement<[string]>;
    all: Statement<[]>;
    byOwner: Statement<[string]>;
    revoke: Statement<[number, string]>;
    touch: Statement<[number, string, string, number]>;
  };

  constructor(
    private readonly db: Db,
    opts: TokenStoreOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.touchFlushMs = opts.touchFlushMs ?? 60_000;
    this.onFlushError = opts.onFlushError ?? (() => {});
    this.stmt = {
      insert: db.prepare(
        `INSERT INTO api_tokens (id, token_hash, owner, name, access, paths, groups, ip_allowlist, rate_limit, created_at, expires_at, created_by)
         VALUES (@id, @token_hash, @owner, @name, @access, @paths, @groups, @ip_allowlist, @rate_limit, @created_at, @expires_at, @created_by)`,
      ),
      byHash: db.prepare(`SELECT ${COLUMNS}, token_hash FROM api_tokens WHERE token_hash = ?`),
      byId: db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE id = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM api_tokens ORDER BY created_at DESC, id`),
      byOwner: db.prepare(`SELECT ${COLUMNS} FROM api_tokens WHERE owner = ? ORDER BY created_at DESC, id`),
      revoke: db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      // Never moves last_used_at backwards (two processes stamping the same token).
      touch: db.prepare('UPDATE api_tokens SET last_used_at = ?, last_used_ip = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)'),
    };
  }

  /** Mints a token. The secret is in the result only; the database gets its SHA-256. */
  create(input: CreateTokenInput, settings: TokenSettings): CreatedToken {
    if (typeof input.owner !== 'string' || !USERNAME.test(input.owner)) throw new TokenInputError('owner', 'must be a Jira username (1-255 characters, no spaces)');
    if (typeof input.name !== 'string' || !NAME.test(input.name.trim())) throw new TokenInputError('name', 'must be 1-100 characters');
    const access = input.access ?? 'write';
    if (access !== 'read' && access !== 'write') throw new TokenInputError('access', 'must be "read" or "write"');
    const paths = checkList('paths', input.paths, (s) => pathPattern.safeParse(s).success, 'a path pattern ("/rest/x", "/rest/x/*" or "GET /rest/x")');
    // Groups come from the creator's JWT (or a Jira lookup): room for users in many groups.
    const groups = checkList('groups', input.groups, (s) => s.length > 0 && s.length <= 255, 'a group name', 2000);
    const ipAllowlist = checkList('ipAllowlist', input.ipAllowlist, isValidCidr, 'an IP address or CIDR');
    const rl = input.rateLimit;
    if (rl !== undefined && !(Number.isInteger(rl.points) && rl.points >= 1 && Number.isInteger(rl.durationSec) && rl.durationSec >= 1)) {
      throw new TokenInputError('rateLimit', 'points and durationSec must be whole numbers >= 1');
    }
    const max = settings.maxLifetimeDays;
    const days = input.days ?? max;
    if (!Number.isFinite(days) || days <= 0) throw new TokenInputError('days', 'must be a positive number of days');
    const capped = days > max;
    const now = this.clock.now();
    const token = generateApiToken(settings.prefix);
    const id = `tok_${randomBytes(12).toString('base64url')}`;
    const expiresAt = now + Math.round(Math.min(days, max) * DAY_MS);
    this.stmt.insert.run({
      id,
      token_hash: hashToken(token),
      owner: input.owner,
      name: input.name.trim(),
      access,
      paths: JSON.stringify(paths),
      groups: JSON.stringify(groups),
      ip_allowlist: JSON.stringify(ipAllowlist),
      rate_limit: rl ? JSON.stringify({ points: rl.points, durationSec: rl.durationSec }) : null,
      created_at: now,
      expires_at: expiresAt,
      created_by: input.createdBy,
    });
    return { id, token, record: this.get(id)!, capped };
  }

  /** Every token (or one owner's), newest first. Never includes the hash. */
  list(filter: { owner?: string } = {}): ApiTokenRecord[] {
    const rows = (filter.owner === undefined ? this.stmt.all.all() : this.stmt.byOwner.all(filter.owner)) as Row[];
    return rows.map((r) => this.withPending(toRecord(r)));
  }

  get(id: string): ApiTokenRecord | undefined {
    const r = this.stmt.byId.get(id) as Row | undefined;
    return r ? this.withPending(toRecord(r)) : undefined;
  }

  /**
   * Revokes a token (idempotent: the first revocation time is kept). With `owner`, only that
   * owner's token is touched (self-service), and someone else's id answers "not found".
   * Returns the record after revocation, or undefined when there is no such (own) token.
   */
  revoke(id: string, opts: { owner?: string } = {}): ApiTokenRecord | undefined {
    const existing = this.get(id);
    if (!existing || (opts.owner !== undefined && existing.owner !== opts.owner)) return undefined;
    this.stmt.revoke.run(this.clock.now(), id);
    return this.get(id);
  }

  /**
   * The token whose secret this is, or undefined. The row is found through the unique index on the
   * hash; the final equality is a constant-time compare of the two digests, so no code path compares
   * secret-derived bytes with a short-circuiting `===`. (The index lookup's timing depends only on
   * a SHA-256 of a ~178-bit secret, which tells an attacker nothing usable.)
   */
  findByToken(secret: string): ApiTokenRecord | undefined {
    const digest = hashToken(secret);
    const row = this.stmt.byHash.get(digest) as Row | undefined;
    if (!row) return undefined;
    const a = Buffer.from(row.token_hash, 'hex');
    const b = Buffer.from(digest, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    return this.withPending(toRecord(row));
  }

  /** Records a use in memory; written later in one batch (see TokenStoreOptions.touchFlushMs). */
  touch(id: string, ip: string, timeMs: number): void {
    const p = this.pending.get(id);
    if (p && p.at >= timeMs) return;
    this.pending.set(id, { at: timeMs, ip });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        try {
          this.flush();
        } catch (e) {
          this.onFlushError(e);
        }
      }, this.touchFlushMs);
      this.timer.unref();
    }
  }

  /** Writes pending last-used stamps in one transaction (also called on shutdown). */
  flush(): void {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.db.transaction(() => {
      for (const [id, { at, ip }] of batch) this.stmt.touch.run(at, ip, id, at);
    })();
    // Only drop what was written: a touch that arrived meanwhile (newer `at`) stays pending.
    for (const [id, v] of batch) if (this.pending.get(id) === v) this.pending.delete(id);
  }

  /** Flushes and stops the timer; the Db itself is closed by its owner. */
  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private withPending(rec: ApiTokenRecord): ApiTokenRecord {
    const p = this.pending.get(rec.id);
    if (p && (rec.lastUsedAt === undefined || p.at > rec.lastUsedAt)) {
      rec.lastUsedAt = p.at;
      rec.lastUsedIp = p.ip;
    }
    return rec;
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** `maxLifetimeDays` (current policy) shortens the shown expiry the same way the verifier does. */
export function describeToken(rec: ApiTokenRecord, nowMs: number, maxLifetimeDays?: number): ApiTokenView {
  return {
    id: rec.id,
    owner: rec.owner,
    name: rec.name,
    access: rec.access,
    paths: rec.paths,
    groups: rec.groups,
    ipAllowlist: rec.ipAllowlist,
    rateLimit: rec.rateLimit ?? null,
    status: apiTokenStatus(rec, nowMs, maxLifetimeDays),
    createdAt: iso(rec.createdAt)!,
    expiresAt: iso(effectiveExpiry(rec, maxLifetimeDays))!,
    lastUsedAt: iso(rec.lastUsedAt),
    lastUsedIp: rec.lastUsedIp ?? null,
    revokedAt: iso(rec.revokedAt),
    createdBy: rec.createdBy,
  };
}

/** What an admin-audit row records about a token (never the secret): CLI, self-service and admin API alike. */
export function tokenAuditSummary(v: ApiTokenView): Record<string, unknown> {
  return { owner: v.owner, name: v.name, access: v.access, groups: v.groups, paths: v.paths, expires: v.expiresAt };
}
