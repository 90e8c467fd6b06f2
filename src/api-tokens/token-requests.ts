// API-token requests (issue 19, apiTokens.approval) over any TokenRequestStore: whether a mint needs
// an admin's approval (a pure decision), asking, deciding, withdrawing, and the claim that mints the
// approved token. The secret exists once, in claim()'s return value, as with ApiTokens.create.
// Admin-activity rows are the callers' (self-service on the proxy listener, the admin API): they
// know the actor, and a claim whose row cannot be stored is undone there.
import { randomBytes } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import { pathPattern } from '../config/schema.js';
import { isValidCidr } from '../config/validate.js';
import type { TokenRequestView } from '../admin/wire.js';
import type { TokenAccess } from '../store/token-store.js';
import type { TokenRequestRecord, TokenRequestStatus, TokenRequestStore } from '../store/token-request-store.js';
import { TokenInputError, type ApiTokens, type CreatedToken, type TokenSettings } from './api-tokens.js';
export type { TokenRequestRecord, TokenRequestStatus, TokenRequestView };

/** The apiTokens settings that decide whether a self-service mint waits for an admin. */
export interface ApprovalSettings {
  approval: 'none' | 'required' | 'write';
  approvalExemptGroups: readonly string[];
}

/**
 * Whether a user's token needs an admin's approval first: apiTokens.approval "required" (every
 * token) or "write" (read-write tokens only), unless the user is in one of approvalExemptGroups.
 *   approvalRequired({approval: 'write', approvalExemptGroups: []}, 'read', ['dev']) -> false
 */
export function approvalRequired(s: ApprovalSettings, access: TokenAccess, groups: readonly string[]): boolean {
  if (s.approval === 'none' || (s.approval === 'write' && access !== 'write')) return false;
  return !groups.some((g) => s.approvalExemptGroups.includes(g));
}

export const TOKEN_REQUEST_STATUSES: readonly TokenRequestStatus[] = ['pending', 'approved', 'denied', 'issued', 'withdrawn'];
/** Pending requests one user may have at once: enough for real needs, not a queue to flood admins with. */
export const MAX_PENDING_REQUESTS_PER_OWNER = 10;
/** The longest justification or admin comment kept. */
export const MAX_NOTE_CHARS = 2000;

export interface TokenRequestInput {
  owner: string;
  name: string;
  access: TokenAccess;
  paths?: string[];
  ipAllowlist?: string[];
  days?: number;
  justification: string;
  /** The requester's groups from their JWT now. */
  groups: string[];
}

const NAME = /^[^\x00-\x1f\x7f]{1,100}$/;
// Free text, one paragraph or a few lines: no control characters but line breaks and tabs.
const NOTE = /^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+$/;

/** A justification or comment as stored: trimmed, 1..MAX_NOTE_CHARS characters; `field` names it in the error. */
export function checkNote(field: string, v: unknown): string {
  const s = typeof v === 'string' ? v.trim() : '';
  if (!s) throw new TokenInputError(field, 'is required');
  if (s.length > MAX_NOTE_CHARS || !NOTE.test(s)) throw new TokenInputError(field, `must be 1-${MAX_NOTE_CHARS} characters of text`);
  return s;
}

function checkList(field: string, values: string[] | undefined, valid: (s: string) => boolean, what: string): string[] {
  const list = values ?? [];
  if (!Array.isArray(list) || list.length > 100) throw new TokenInputError(field, 'must be a list of at most 100 entries');
  for (const v of list) if (typeof v !== 'string' || !valid(v)) throw new TokenInputError(field, `${JSON.stringify(v)} is not ${what}`);
  return [...new Set(list)];
}

export class TokenRequests {
  private readonly clock: Clock;

  constructor(
    readonly store: TokenRequestStore,
    private readonly tokens: ApiTokens,
    opts: { clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
  }

  /**
   * Stores a pending request after the same checks a mint makes (so an admin never approves a
   * token that cannot be minted); a bad input throws TokenInputError naming the field.
   */
  async request(input: TokenRequestInput): Promise<TokenRequestRecord> {
    if (typeof input.name !== 'string' || !NAME.test(input.name.trim())) throw new TokenInputError('name', 'must be 1-100 characters');
    if (input.access !== 'read' && input.access !== 'write') throw new TokenInputError('access', 'must be "read" or "write"');
    const paths = checkList('paths', input.paths, (s) => pathPattern.safeParse(s).success, 'a path pattern ("/rest/x", "/rest/x/*" or "GET /rest/x")');
    const ipAllowlist = checkList('ipAllowlist', input.ipAllowlist, isValidCidr, 'an IP address or CIDR');
    if (input.days !== undefined && (!Number.isFinite(input.days) || input.days <= 0)) throw new TokenInputError('days', 'must be a positive number of days');
    const justification = checkNote('justification', input.justification);
    const rec: TokenRequestRecord = {
      id: `req_${randomBytes(12).toString('base64url')}`,
      owner: input.owner,
      name: input.name.trim(),
      access: input.access,
      paths,
      ipAllowlist,
      justification,
      groups: [...new Set(input.groups)],
      status: 'pending',
      createdAt: this.clock.now(),
    };
    if (input.days !== undefined) rec.days = input.days;
    const { status: _pending, ...row } = rec;
    await this.store.insert(row);
    return rec;
  }

  async get(id: string): Promise<TokenRequestRecord | undefined> {
    return this.store.get(id);
  }

  async list(filter: { owner?: string; status?: TokenRequestStatus } = {}): Promise<TokenRequestRecord[]> {
    return this.store.list(filter);
  }

  /**
   * Approves or denies a pending request (a denial needs a comment). Undefined when there is no
   * such request; `decided: false` with the current row when it was not pending (someone else decided first).
   */
  async decide(id: string, d: { status: 'approved' | 'denied'; by: string; comment?: string }): Promise<{ decided: boolean; request: TokenRequestRecord } | undefined> {
    const comment = d.status === 'denied' || (d.comment !== undefined && d.comment.trim() !== '') ? checkNote('comment', d.comment) : undefined;
    const decided = await this.store.decide(id, { status: d.status, at: this.clock.now(), by: d.by, ...(comment !== undefined ? { comment } : {}) });
    const request = await this.store.get(id);
    return request && { decided, request };
  }

  /** Withdraws the owner's pending request; the row after, or undefined when there was no such pending (own) request. */
  async withdraw(id: string, owner: string): Promise<TokenRequestRecord | undefined> {
    if (!(await this.store.withdraw(id, owner, this.clock.now()))) return undefined;
    return this.store.get(id);
  }

  /**
   * Mints the token of the owner's approved request and marks the request issued with it. The
   * token carries the groups the caller has now that they also had when they asked (what the admin
   * saw, less any they lost since). Two claims racing (two replicas): both may mint, only one marks
   * the request; the other's token is revoked at once and never handed out, so one secret exists.
   * Undefined when there is no approved request of this owner with this id (issued included).
   */
  async claim(id: string, caller: { owner: string; groups: readonly string[]; createdBy: string }, settings: TokenSettings): Promise<{ created: CreatedToken; request: TokenRequestRecord } | undefined> {
    const req = await this.store.get(id);
    if (!req || req.owner !== caller.owner || req.status !== 'approved') return undefined;
    const created = await this.tokens.create(
      {
        owner: req.owner,
        name: req.name,
        access: req.access,
        paths: req.paths,
        ipAllowlist: req.ipAllowlist,
        groups: req.groups.filter((g) => caller.groups.includes(g)),
        ...(req.days !== undefined ? { days: req.days } : {}),
        createdBy: caller.createdBy,
      },
      settings,
    );
    if (!(await this.store.markIssued(id, created.id))) {
      await this.tokens.revoke(created.id);
      return undefined;
    }
    return { created, request: (await this.store.get(id))! };
  }
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The public view of a request (admin API and self-service alike): ISO times, nulls for what is not set. */
export function describeTokenRequest(r: TokenRequestRecord): TokenRequestView {
  return {
    id: r.id,
    owner: r.owner,
    name: r.name,
    access: r.access,
    paths: r.paths,
    ipAllowlist: r.ipAllowlist,
    days: r.days ?? null,
    justification: r.justification,
    groups: r.groups,
    status: r.status,
    createdAt: iso(r.createdAt)!,
    decidedAt: iso(r.decidedAt),
    decidedBy: r.decidedBy ?? null,
    comment: r.comment ?? null,
    tokenId: r.tokenId ?? null,
  };
}

/** What an admin-activity row records about a request (never a secret; the justification is the user's own text). */
export function tokenRequestAuditSummary(r: TokenRequestRecord): Record<string, unknown> {
  return { owner: r.owner, name: r.name, access: r.access, paths: r.paths, ipAllowlist: r.ipAllowlist, days: r.days ?? null, groups: r.groups, justification: r.justification };
}
