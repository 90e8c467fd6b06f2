// API-token requests at rest (issue 19, apiTokens.approval): the interface both backends implement
// (sqlite/token-requests.ts, postgres/token-requests.ts) and its records. A request is what a user
// asked for when an admin must approve first; it never holds a secret (the token is minted only
// when its owner claims the approved request). Behaviour is pinned for both backends by the
// conformance suite (test/store/conformance/token-requests.ts). Times are ms since the epoch.
import type { TokenAccess } from './token-store.js';

/**
 * pending -> approved -> issued (claimed: the token exists), pending -> denied, pending -> withdrawn.
 * Every other step is refused by the store, so each happens at most once whoever races for it.
 */
export type TokenRequestStatus = 'pending' | 'approved' | 'denied' | 'issued' | 'withdrawn';

export interface TokenRequestRecord {
  /** Public id ("req_…"). */
  id: string;
  /** The Jira username asking (the token's owner once issued). */
  owner: string;
  name: string;
  access: TokenAccess;
  /** Path patterns asked for; empty: every path. */
  paths: string[];
  /** CIDRs asked for; empty: any address. */
  ipAllowlist: string[];
  /** Lifetime asked for in days; absent: apiTokens.maxLifetimeDays when the token is minted. */
  days?: number;
  /** Why the user needs the token (shown to the admin who decides). */
  justification: string;
  /** The requester's groups from their JWT when they asked. */
  groups: string[];
  status: TokenRequestStatus;
  createdAt: number;
  /** When it left pending (approved, denied or withdrawn). */
  decidedAt?: number;
  /** Who moved it out of pending: the admin (approved, denied) or the owner (withdrawn). */
  decidedBy?: string;
  /** The admin's comment (required to deny). */
  comment?: string;
  /** The token minted when the owner claimed it (status issued). */
  tokenId?: string;
}

/** A request to store: always pending, nothing decided yet. */
export type NewTokenRequest = Omit<TokenRequestRecord, 'status' | 'decidedAt' | 'decidedBy' | 'comment' | 'tokenId'>;

export interface TokenRequestDecision {
  status: 'approved' | 'denied';
  at: number;
  by: string;
  comment?: string;
}

export interface TokenRequestStore {
  /** Stores a new pending request; a duplicate id is an error. */
  insert(request: NewTokenRequest): Promise<void>;
  get(id: string): Promise<TokenRequestRecord | undefined>;
  /** Every request, or one owner's, and/or those in one status: newest first (ties by id, byte order). */
  list(filter?: { owner?: string; status?: TokenRequestStatus }): Promise<TokenRequestRecord[]>;
  /**
   * Approves or denies a pending request, in one conditional write: of two admins deciding at once
   * (on two replicas), exactly one gets true and the other's decision is not stored.
   */
  decide(id: string, decision: TokenRequestDecision): Promise<boolean>;
  /** Approved -> issued with the minted token's id, once: true when this call did it. */
  markIssued(id: string, tokenId: string): Promise<boolean>;
  /** Pending -> withdrawn, only by its owner (someone else's id changes nothing): true when this call did it. */
  withdraw(id: string, owner: string, at: number): Promise<boolean>;
}
