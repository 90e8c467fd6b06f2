// The JSON shapes the admin API answers with, in one dependency-free file: the server builds them
// and the admin UI (admin-ui/, a separate browser build) imports these types, so the wire contract
// is written once. Keep this file free of imports (the UI type-checks it without Node's types).

export type ApiTokenStatus = 'active' | 'revoked' | 'expired';
export type TokenAccess = 'read' | 'write';

/** What a token grants, the same in the stored record (src/store/token-store.ts) and the public view. */
export interface ApiTokenGrant {
  /** Public id ("tok_…"); never derived from the secret. */
  id: string;
  /** The Jira username the token acts as. */
  owner: string;
  name: string;
  access: TokenAccess;
  /** Path patterns the token may call (exact, "/prefix/*", "METHOD /path"); empty: every path. */
  paths: string[];
  /** The owner's groups when the token was minted (a token carries no groups of its own). */
  groups: string[];
  /** CIDRs the token may be used from; empty: any address (the global allow-list still applies). */
  ipAllowlist: string[];
  /** "cli", "self-service:<user>", "admin:<user>". */
  createdBy: string;
}

/** The public view of a token (CLI --json, self-service, admin API): no hash, no secret, ISO times. */
export interface ApiTokenView extends ApiTokenGrant {
  rateLimit: { points: number; durationSec: number } | null;
  status: ApiTokenStatus;
  createdAt: string;
  expiresAt: string;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  revokedAt: string | null;
}

/** One request row as GET /api/audit answers (src/audit/query.ts AuditEntry, checked against this at the admin edge). */
export interface AuditEntryView {
  id: number;
  time: string;
  requestId: string;
  decision: string;
  reason: string;
  status: number;
  method: string;
  path: string;
  clientIp: string;
  user: string | null;
  credentialKind: string | null;
  tokenId: string | null;
  clientId: string | null;
  issuer: string | null;
  latencyMs: number;
  upstreamStatus: number | null;
  route: string | null;
  stage: string | null;
  rule: string | null;
  /** The code a rule in report mode would have refused this request with (enforcement.rules). */
  wouldDeny: string | null;
  userAgent: string | null;
  /** The decision facts replay reads, as stored (compact JSON). */
  facts: string | null;
  prevHash: string;
  rowHash: string;
  /** The sidecar that wrote the row; ids are per replica. */
  replica: string;
}

export interface AdminAuditEntry {
  id: number;
  time: string;
  actor: string;
  action: string;
  target: string | null;
  before: unknown;
  after: unknown;
  rowHash: string;
  /** The sidecar that wrote it (server.replicaName). */
  replica: string;
}

export interface OverviewBucket {
  /** ISO start of the minute. */
  start: string;
  requests: number;
  denied: number;
  rateLimited: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

export interface Overview {
  from: string;
  to: string;
  bucketSec: number;
  totals: { requests: number; allowed: number; denied: number; passthrough: number; errors: number; rateLimited: number };
  denialsByReason: Array<{ reason: string; count: number }>;
  buckets: OverviewBucket[];
}

export interface AdminApiKey {
  id: string;
  name: string;
  hint: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}
