// Our API tokens over any TokenStore (SQLite or PostgreSQL): minting, input validation, the
// constant-time lookup, revocation and batched last-used stamps. Only sha256(token) is stored (see
// migrations/sqlite/0002_api_tokens.sql for why no salt/KDF); the secret exists once, in create()'s
// return value.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { systemClock, type Clock } from '../clock.js';
import { pathPattern } from '../config/schema.js';
import { isValidCidr } from '../config/validate.js';
import type { ApiTokenView } from '../admin/wire.js';
import type { ApiTokenRecord, TokenAccess, TokenChanges, TokenStore, TokenUse } from '../store/token-store.js';
import { generateApiToken } from './format.js';
import { apiTokenStatus, DAY_MS, effectiveExpiry } from './status.js';
export type { ApiTokenRecord, ApiTokenView, TokenAccess };

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

// One-shot crypto.hash (Node >= 20.12; a string is hashed as UTF-8): the digest createHash('sha256').update(token, 'utf8')
// .digest('hex') gives, so stored hashes still match, without a Hash object per request (≈ 1 µs of an API-token lookup's 13).
export const hashToken = (token: string): string => hash('sha256', token, 'hex');

const USERNAME = /^[^\s\x00-\x1f\x7f]{1,255}$/;
const NAME = /^[^\x00-\x1f\x7f]{1,100}$/;

function checkList(field: string, values: string[] | undefined, valid: (s: string) => boolean, what: string, max = 100): string[] {
  const list = values ?? [];
  if (!Array.isArray(list) || list.length > max) throw new TokenInputError(field, `must be a list of at most ${max} entries`);
  for (const v of list) if (typeof v !== 'string' || !valid(v)) throw new TokenInputError(field, `${JSON.stringify(v)} is not ${what}`);
  return [...new Set(list)];
}

export interface ApiTokensOptions {
  clock?: Clock;
  /**
   * Last-used stamps are kept in memory and written in one batch at most this often (so at most
   * one write per token per interval, never a write on the request path). Readers in this process
   * (list/get) see the pending values at once; other processes see them up to this late. Default 60 s.
   */
  touchFlushMs?: number;
  /** A failed background flush (a busy or unreachable store): the stamps stay pending for the next one. */
  onFlushError?: (err: unknown) => void;
  /**
   * How long a row found by findByToken is reused without reading the store again (read on every
   * lookup, so a reload applies). 0: every lookup reads the store. A revocation made through this
   * object empties the cache at once; one made elsewhere is seen within this bound.
   */
  cacheMs?: () => number;
}

/** Rows kept for cacheMs: far more than the tokens in use at once; beyond it the oldest go. */
const MAX_CACHED = 10_000;

export class ApiTokens {
  private readonly clock: Clock;
  private readonly touchFlushMs: number;
  private readonly onFlushError: (err: unknown) => void;
  private readonly pending = new Map<string, TokenUse>();
  private timer: NodeJS.Timeout | undefined;
  private readonly cacheMs: () => number;
  private readonly cache = new LRUCache<string, { record: ApiTokenRecord; at: number }>({ max: MAX_CACHED });

  constructor(
    readonly store: TokenStore,
    opts: ApiTokensOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.touchFlushMs = opts.touchFlushMs ?? 60_000;
    this.onFlushError = opts.onFlushError ?? (() => {});
    this.cacheMs = opts.cacheMs ?? (() => 0);
  }

  /** Mints a token. The secret is in the result only; the store gets its SHA-256. */
  async create(input: CreateTokenInput, settings: TokenSettings): Promise<CreatedToken> {
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
    const record: ApiTokenRecord = {
      id,
      owner: input.owner,
      name: input.name.trim(),
      access,
      paths,
      groups,
      ipAllowlist,
      createdAt: now,
      expiresAt: now + Math.round(Math.min(days, max) * DAY_MS),
      createdBy: input.createdBy,
    };
    if (rl) record.rateLimit = { points: rl.points, durationSec: rl.durationSec };
    await this.store.insert({ ...record, tokenHash: hashToken(token) });
    return { id, token, record, capped };
  }

  /**
   * Rotation: a new token with the same grants (owner, name, access, paths, groups, IP list, rate
   * limit) and the same lifetime from now (capped at maxLifetimeDays), and the old one brought to
   * expire `overlapMs` from now (0: at once), so clients can switch within the overlap. With `owner`,
   * only that owner's token (self-service). Undefined when there is no such live token.
   */
  async rotate(id: string, opts: { overlapMs: number; createdBy: string; owner?: string }, settings: TokenSettings): Promise<(CreatedToken & { old: ApiTokenRecord }) | undefined> {
    if (!Number.isFinite(opts.overlapMs) || opts.overlapMs < 0 || opts.overlapMs > 30 * DAY_MS) throw new TokenInputError('overlap', 'must be between 0 and 30 days');
    const old = await this.get(id);
    const now = this.clock.now();
    if (!old || (opts.owner !== undefined && old.owner !== opts.owner) || old.revokedAt !== undefined || old.expiresAt <= now) return undefined;
    const input: CreateTokenInput = {
      owner: old.owner,
      name: old.name,
      access: old.access,
      paths: old.paths,
      groups: old.groups,
      ipAllowlist: old.ipAllowlist,
      days: Math.max(1 / 24, (old.expiresAt - old.createdAt) / DAY_MS),
      createdBy: opts.createdBy,
    };
    if (old.rateLimit) input.rateLimit = old.rateLimit;
    const created = await this.create(input, settings);
    await this.store.shortenExpiry(id, now + opts.overlapMs);
    this.cache.clear();
    return { ...created, old: (await this.get(id))! };
  }

  /**
   * Edits a live token: name, paths, IP allow-list, rate limit (null: none) and expiry. The expiry
   * may move earlier or later but never beyond maxLifetimeDays from now (nor into the past). Returns
   * the record before and after, or undefined when there is no such live token.
   */
  async update(
    id: string,
    input: { name?: unknown; paths?: unknown; ipAllowlist?: unknown; rateLimit?: unknown; expiresAt?: unknown },
    settings: TokenSettings,
  ): Promise<{ before: ApiTokenRecord; after: ApiTokenRecord } | undefined> {
    const before = await this.get(id);
    const now = this.clock.now();
    if (!before || before.revokedAt !== undefined || before.expiresAt <= now) return undefined;
    const changes: TokenChanges = {};
    if (input.name !== undefined) {
      if (typeof input.name !== 'string' || !NAME.test(input.name.trim())) throw new TokenInputError('name', 'must be 1-100 characters');
      changes.name = input.name.trim();
    }
    if (input.paths !== undefined) changes.paths = checkList('paths', input.paths as string[], (s) => pathPattern.safeParse(s).success, 'a path pattern ("/rest/x", "/rest/x/*" or "GET /rest/x")');
    if (input.ipAllowlist !== undefined) changes.ipAllowlist = checkList('ipAllowlist', input.ipAllowlist as string[], isValidCidr, 'an IP address or CIDR');
    if (input.rateLimit !== undefined) {
      const rl = input.rateLimit as { points?: unknown; durationSec?: unknown } | null;
      if (rl === null) changes.rateLimit = null;
      else if (typeof rl === 'object' && Number.isInteger(rl.points) && (rl.points as number) >= 1 && Number.isInteger(rl.durationSec) && (rl.durationSec as number) >= 1) {
        changes.rateLimit = { points: rl.points as number, durationSec: rl.durationSec as number };
      } else throw new TokenInputError('rateLimit', 'points and durationSec must be whole numbers >= 1');
    }
    if (input.expiresAt !== undefined) {
      const t = typeof input.expiresAt === 'number' ? input.expiresAt : typeof input.expiresAt === 'string' ? Date.parse(input.expiresAt) : NaN;
      if (!Number.isFinite(t)) throw new TokenInputError('expiresAt', 'must be a date and time');
      if (t <= now) throw new TokenInputError('expiresAt', 'must be in the future (revoke the token to end it now)');
      const limit = now + settings.maxLifetimeDays * DAY_MS;
      if (t > limit) throw new TokenInputError('expiresAt', `must be at most ${settings.maxLifetimeDays} days from now (apiTokens.maxLifetimeDays)`);
      changes.expiresAt = Math.trunc(t);
    }
    if (!(await this.store.update(id, changes))) return undefined;
    this.cache.clear(); // a narrowed grant applies from the next request on
    return { before, after: (await this.get(id))! };
  }

  /** Forgets every cached row: a revocation elsewhere was announced (the next lookups read the store). */
  forgetCached(): void {
    this.cache.clear();
  }

  /**
   * How many live (not revoked, not expired under the current maxLifetimeDays) tokens an owner
   * holds: what apiTokens.maxPerUser bounds, for self-service, the admin API and the CLI alike.
   */
  async activeCount(owner: string, maxLifetimeDays?: number): Promise<number> {
    const now = this.clock.now();
    return (await this.store.list({ owner })).filter((t) => apiTokenStatus(t, now, maxLifetimeDays) === 'active').length;
  }

  /** Every token (or one owner's), newest first. Never includes the hash. */
  async list(filter: { owner?: string } = {}): Promise<ApiTokenRecord[]> {
    return (await this.store.list(filter)).map((r) => this.withPending(r));
  }

  async get(id: string): Promise<ApiTokenRecord | undefined> {
    const r = await this.store.get(id);
    return r && this.withPending(r);
  }

  /**
   * Revokes a token (idempotent: the first revocation time is kept). With `owner`, only that
   * owner's token is touched (self-service), and someone else's id answers "not found".
   * Returns the record after revocation, or undefined when there is no such (own) token.
   */
  async revoke(id: string, opts: { owner?: string } = {}): Promise<ApiTokenRecord | undefined> {
    const existing = await this.get(id);
    if (!existing || (opts.owner !== undefined && existing.owner !== opts.owner)) return undefined;
    await this.store.revoke(id, this.clock.now());
    this.cache.clear(); // revocations are rare: this replica refuses the token from the next request on
    return this.get(id);
  }

  /**
   * The token whose secret this is, or undefined. The row is found through the unique index on the
   * hash; the final equality is a constant-time compare of the two digests, so no code path compares
   * secret-derived bytes with a short-circuiting `===`. (The index lookup's timing depends only on
   * a SHA-256 of a ~178-bit secret, which tells an attacker nothing usable.)
   */
  async findByToken(secret: string): Promise<ApiTokenRecord | undefined> {
    const digest = hashToken(secret);
    const ttl = this.cacheMs();
    const now = this.clock.now();
    if (ttl > 0) {
      // Keyed by the digest the store matched in constant time before: no secret-derived compare here.
      const hit = this.cache.get(digest);
      if (hit && now - hit.at < ttl) return this.withPending(structuredClone(hit.record));
    }
    const found = await this.store.findByHash(digest);
    if (!found) return undefined;
    const a = Buffer.from(found.tokenHash, 'hex');
    const b = Buffer.from(digest, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
    if (ttl > 0) this.cache.set(digest, { record: structuredClone(found.record), at: now });
    return this.withPending(found.record);
  }

  /** Records a use in memory; written later in one batch (see ApiTokensOptions.touchFlushMs). */
  touch(id: string, ip: string, timeMs: number): void {
    const p = this.pending.get(id);
    if (p && p.at >= timeMs) return;
    this.pending.set(id, { id, at: timeMs, ip });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(this.onFlushError);
      }, this.touchFlushMs);
      this.timer.unref();
    }
  }

  /** Writes pending last-used stamps in one batch (also called on shutdown). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending.values()];
    await this.store.recordUses(batch);
    // Only drop what was written: a touch that arrived meanwhile (newer `at`) stays pending.
    for (const v of batch) if (this.pending.get(v.id) === v) this.pending.delete(v.id);
  }

  /** Flushes and stops the timer; the store itself is closed by its owner. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
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
