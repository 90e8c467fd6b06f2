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

/** A token request's state: pending -> approved -> issued (claimed), or denied, or withdrawn by its owner. */
export type TokenRequestStatus = 'pending' | 'approved' | 'denied' | 'issued' | 'withdrawn';

/**
 * An API-token request (apiTokens.approval), as the admin API (GET /api/token-requests) and the
 * self-service API (GET /_sidecar/tokens/requests) answer: what was asked, why, and what became of
 * it. Never a secret: the token is minted when the owner claims the approved request.
 */
export interface TokenRequestView {
  /** Public id ("req_…"). */
  id: string;
  /** The Jira username asking (the token's owner). */
  owner: string;
  name: string;
  access: TokenAccess;
  /** Path patterns asked for; empty: every path. */
  paths: string[];
  /** CIDRs asked for; empty: any address. */
  ipAllowlist: string[];
  /** Lifetime asked for in days; null: apiTokens.maxLifetimeDays. */
  days: number | null;
  justification: string;
  /** The requester's groups from their JWT when they asked. */
  groups: string[];
  status: TokenRequestStatus;
  createdAt: string;
  /** When it left pending (approved, denied or withdrawn). */
  decidedAt: string | null;
  /** The admin who approved or denied it, or the owner who withdrew it. */
  decidedBy: string | null;
  /** The admin's comment (always set on a denial). */
  comment: string | null;
  /** The token minted by the claim (status issued). */
  tokenId: string | null;
}

/** GET /api/token-requests and GET /_sidecar/tokens/requests. */
export interface TokenRequestList {
  requests: TokenRequestView[];
}

/** POST /api/token-requests/:id/approve (comment optional) and /deny (comment required). */
export interface TokenRequestDecisionBody {
  comment?: string;
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

/** GET /api/audit: one page of rows, newest first. */
export interface AuditPageView {
  items: AuditEntryView[];
  nextCursor: string | null;
  /** How many rows match the filters, on the first page (no cursor); later pages leave it out. */
  total?: number;
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
  /** ISO start of the bucket (bucketSec long). */
  start: string;
  requests: number;
  /** Refused for any reason but the rate limit. */
  denied: number;
  rateLimited: number;
  /** null: no requests in the bucket (a gap, not a zero). */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** One value of a top list: a user, token id, client id or path. */
export interface OverviewTopRow {
  key: string;
  requests: number;
  /** Refusals of any kind (denied and rate-limited). */
  refusals: number;
}

export interface OverviewTop {
  byRequests: OverviewTopRow[];
  byRefusals: OverviewTopRow[];
}

/** The ranges GET /api/overview?range= takes; custom ones pass from= and to= instead. */
export const OVERVIEW_RANGES = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const;
export type OverviewRange = keyof typeof OVERVIEW_RANGES | 'custom';

export interface Overview {
  range: OverviewRange;
  from: string;
  to: string;
  bucketSec: number;
  /** requests = allowed + passthrough + denied + rateLimited + errors. */
  totals: { requests: number; allowed: number; denied: number; passthrough: number; errors: number; rateLimited: number };
  /** Refusals by reason (rate_limited included). */
  denialsByReason: Array<{ reason: string; count: number }>;
  buckets: OverviewBucket[];
  top: { users: OverviewTop; tokens: OverviewTop; clients: OverviewTop; paths: OverviewTop };
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

/** One row of a readiness table: a user, client, address, user agent or path, with its counts. */
export interface ReadinessTopRow {
  name: string;
  requests: number;
  firstSeen: string;
  lastSeen: string;
}

/**
 * One switch of GET /api/readiness (built by src/rollout/readiness.ts): a credential kind an
 * admin may turn off, or a rule in report mode, and who would break if it were made.
 */
export interface ReadinessSwitch {
  /** "credentials:basic" (a credential kind's setting) or "rule:readOnlyGroups:contractors" (a report-mode rule). */
  id: string;
  kind: 'credential' | 'rule';
  title: string;
  /** The setting the switch is ("credentials.basic: deny"). */
  setting: string;
  /** The code the requests would be refused with. */
  code: string;
  /** Requests in the period that were not refused and would be. */
  requests: number;
  /** Requests of this kind already refused in the period (any reason). */
  refused: number;
  users: number;
  clients: number;
  addresses: number;
  userAgents: number;
  firstSeen: string | null;
  lastSeen: string | null;
  /** How the credential was sent, where that differs (Basic: header or os_username/os_password). */
  forms: Record<string, number>;
  top: { users: ReadinessTopRow[]; clients: ReadinessTopRow[]; addresses: ReadinessTopRow[]; userAgents: ReadinessTopRow[]; paths: ReadinessTopRow[] };
  /** Requests that would break per bucket (ReadinessReport.bucketMs), oldest first, gaps as 0. */
  series: Array<{ t: string; requests: number }>;
}

/** GET /api/readiness?since=7d */
export interface ReadinessReport {
  from: string;
  to: string;
  /** Audit rows read. */
  scanned: number;
  bucketMs: number;
  switches: ReadinessSwitch[];
}

/** One request whose outcome a candidate config changes (POST /api/replay; built by src/rollout/what-if.ts). */
export interface ReplayChange {
  time: string;
  replica: string;
  id: number;
  requestId: string;
  method: string;
  path: string;
  user: string | null;
  client: string | null;
  clientIp: string;
  /** What happened: "allowed" or the code it was refused with. */
  was: string;
  /** What the candidate answers. */
  now: string;
  stage?: string;
  rule?: string;
}

export interface ReplayCounts {
  allowedToDenied: number;
  deniedToAllowed: number;
}

export interface ReplayTop extends ReplayCounts {
  name: string;
  firstSeen: string;
  lastSeen: string;
}

/** POST /api/replay {config, since}: the candidate replayed over the recorded requests of the period. */
export interface ReplayResult {
  /** recorded: compared with what happened; current: with the current config replayed the same way. */
  against: 'recorded' | 'current';
  from: string;
  to: string;
  /** Rows read. */
  scanned: number;
  /** Rows judged (scanned minus undetermined). */
  replayed: number;
  unchanged: number;
  allowedToDenied: number;
  deniedToAllowed: number;
  /** Refused either way, with another code. */
  codeChanged: number;
  /** Allowed by the candidate, but a rule of it in report mode would have refused. */
  wouldDeny: number;
  undetermined: number;
  undeterminedBy: Record<string, number>;
  /** The code each change is about: the new refusal (allowed -> denied) or the old one (denied -> allowed). */
  byCode: Record<string, ReplayCounts>;
  byUser: ReplayTop[];
  byClient: ReplayTop[];
  byPath: ReplayTop[];
  /** Distinct users (or claimed principals) with a change. */
  users: number;
  /** The first changed rows, oldest first. */
  changes: ReplayChange[];
  notes: string[];
}

/** One readiness check as /readyz runs it (GET /api/status). */
export interface StatusCheck {
  name: string;
  ok: boolean;
  detail: string | null;
}

/** One JWT issuer's key source (GET /api/status). */
export interface StatusIssuerKeys {
  issuer: string;
  /** "jwks https://idp/keys", "discovery https://idp -> jwks …", "pem". */
  source: string;
  ok: boolean;
  detail: string | null;
  /** When the keys in use were fetched; null: not fetched (yet), or keys from the configuration. */
  fetchedAt: string | null;
}

/** An audit shipping destination's backlog (GET /api/status). */
export interface StatusShipping {
  destination: string;
  lagRows: number;
  lagSeconds: number;
  shipped: number;
  failures: number;
}

/** What this replica took over at its start from the last graceful stop (jwt.cacheHandover, introspection.cacheHandover). */
export interface StatusHandover {
  kind: 'jwt' | 'introspection';
  setting: string;
  /** The setting is on and the kind in use (issuers configured, introspection enabled). */
  on: boolean;
  /** Verdicts taken over and rows skipped at the start (null: nothing was read: off, or not yet). */
  loaded: number | null;
  skipped: number | null;
  at: string | null;
}

/** GET /api/status: what /readyz and /metrics know, for the admin console's Status page. */
export interface SidecarStatus {
  status: 'ready' | 'not_ready';
  /** Names of the checks that are not ready. */
  missing: string[];
  checks: StatusCheck[];
  issuers: StatusIssuerKeys[];
  version: string;
  replica: string;
  store: string;
  config: { version: number; stored: number; syncedAt: string | null };
  now: string;
  startedAt: string;
  uptimeSec: number;
  audit: {
    /** Rows waiting to be written. */
    queue: number;
    rowsWritten: number;
    /** Rows that could not be queued or written, by reason. */
    failures: Record<string, number>;
    /** Average time of a batch write, in ms (null: none yet). */
    writeAvgMs: number | null;
    writes: number;
    /** Why the audit log refuses rows now (null: it does not). */
    unavailable: string | null;
    shipping: StatusShipping[];
  };
  /** Requests since this replica started, by decision (allow, deny, passthrough, error). */
  requests: Record<string, number>;
  rateLimited: number;
  upstreamErrors: Record<string, number>;
  configReloads: Record<string, number>;
  /** Verdicts taken over at this replica's start, per kind. */
  handover: StatusHandover[];
}

/** GET /api/tokens/:id/usage: a token's requests per day over the last `days` days, from the audit log. */
export interface TokenUsageView {
  id: string;
  days: number;
  from: string;
  to: string;
  /** One bucket per day, oldest first (each the 24 hours from `t`). */
  perDay: Array<{ t: string; requests: number }>;
  requests: number;
  /** Requests with the token that were refused (decision deny). */
  refusals: number;
}
