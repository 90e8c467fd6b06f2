// The audit log at rest: the interface both backends implement (sqlite/audit.ts, postgres/audit.ts)
// and its records. Imports nothing from admin/, pipeline/ or http/. Pinned by the conformance suite
// (test/store/conformance/audit.ts).
//
// Two kinds of chain: request rows (one per guarded request, written in batches by the sink) and
// admin rows (one per admin action, written one at a time). Every replica keeps its own chain of each
// kind: row_hash = SHA-256(prev_hash || canonical row JSON) (audit/chain.ts), ids consecutive within
// the chain, the first row linked to GENESIS or to the retention anchor. The replica is not hashed:
// a row moved to another replica's chain breaks both chains' links. On SQLite there is one replica
// (the file's); on PostgreSQL every replica writing to the database has its own chains, and a query,
// export or verify covers all of them.

export type ChainKind = 'request' | 'admin';

/** One chain: its kind and the replica that writes it. */
export interface ChainId {
  kind: ChainKind;
  replica: string;
}

/** A request row as stored; times in ms since the epoch. Field names as the API shows them. */
export interface AuditRow {
  replica: string;
  id: number;
  time: number;
  requestId: string;
  decision: 'allow' | 'deny' | 'passthrough' | 'error';
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
  wouldDeny: string | null;
  userAgent: string | null;
  facts: string | null;
  prevHash: string;
  rowHash: string;
}

/** An admin row as stored; before/after are the masked JSON texts. */
export interface AdminAuditRow {
  replica: string;
  id: number;
  time: number;
  actor: string;
  action: string;
  target: string | null;
  beforeJson: string | null;
  afterJson: string | null;
  prevHash: string;
  rowHash: string;
}

/** An admin action to append: already masked and serialized by the caller (audit/). */
export type NewAdminRow = Pick<AdminAuditRow, 'time' | 'actor' | 'action' | 'target' | 'beforeJson' | 'afterJson'>;

export interface AuditFilters {
  /** Inclusive lower bound, ms since epoch. */
  from?: number;
  /** Exclusive upper bound, ms since epoch. */
  to?: number;
  user?: string;
  client?: string;
  token?: string;
  ip?: string;
  decision?: AuditRow['decision'];
  /** Exact status. */
  status?: number;
  /** A status class: 4 means 400-499. */
  statusClass?: number;
  /** Path prefix. */
  path?: string;
  replica?: string;
  /** Exact credential kind (jwt, api-token, jira-pat, opaque-bearer, basic, oauth1, session, anonymous). */
  credentialKind?: string;
  /** An error code a report-mode rule would have refused with (exact); 'any': every row with one (would_deny IS NOT NULL). */
  wouldDeny?: string;
}

/**
 * Keyset position in (time, replica, id) order, the order every listing uses: newest first for
 * pages, oldest first for exports. Opaque to callers above the store (encoded into cursors there).
 */
export interface AuditPosition {
  time: number;
  replica: string;
  id: number;
}

export interface AuditPageRequest {
  limit: number;
  /** Rows strictly after this position in the listing's order. */
  after?: AuditPosition;
}

/** Why a batch was not written (plain data: it crosses a worker-thread boundary). */
export interface AuditWriteError {
  /** busy: another writer holds the lock, wait and retry (not a failure); the others stop acceptance. */
  kind: 'busy' | 'storage_full' | 'write_failed';
  code: string;
  message: string;
}

/** Appends batches of request rows to this replica's request chain, one transaction per batch. */
export interface AuditBatchWriter {
  /**
   * `rows`: encoded rows (audit/encode.ts encodeRow: the JSON array of a record's stored values in
   * chain column order, without id). Returns the error when nothing was written; never throws.
   * May answer synchronously (SQLite inline) or with a promise.
   */
  write(rows: string[], indexBatchRows: number): AuditWriteError | undefined | Promise<AuditWriteError | undefined>;
  /** Keep the process alive until pending writes are answered (shutdown drain). */
  keepAlive(): void;
  close(): Promise<void>;
}

export interface ChainBreak {
  /** The first row whose link does not hold. */
  id: number;
  problem: 'edited' | 'missing_before' | 'prev_hash_mismatch';
  detail: string;
}

export interface ChainReport {
  chain: ChainId;
  ok: boolean;
  /** Rows checked (up to and including the break). */
  count: number;
  /** Id the chain starts after (retention anchor; 0: genesis). */
  anchorId: number;
  headId: number;
  headHash: string;
  break?: ChainBreak;
}

export interface RetentionSettings {
  retentionDays: number;
  /** Request rows kept at most (all replicas together); admin rows are kept by age alone. */
  maxEntries: number;
  /** Rows per transaction. */
  batchRows?: number;
  /** Stops between batches (shutdown). */
  signal?: AbortSignal;
  now: number;
}

export interface RetentionResult {
  deletedByAge: number;
  deletedByCount: number;
}

/** Where a chain starts after retention deleted its oldest rows (the last deleted row), as stored. */
export interface ChainAnchor {
  lastId: number;
  lastHash: string;
  lastTime: number;
  /** Rows retention has deleted from the chain so far. */
  deletedTotal: number;
  updatedAt: number;
}

/** The last link of a chain: its newest row, else its anchor, else genesis (id 0). */
export interface ChainHead {
  id: number;
  hash: string;
}

/** Rows of one chain exactly as stored (ids, links and hashes), in id order. */
export type ChainRows = { kind: 'request'; rows: AuditRow[] } | { kind: 'admin'; rows: AdminAuditRow[] };

/** One group of the overview: rows of one minute with this latency, decision and reason. */
export interface OverviewGroup {
  latencyMs: number;
  decision: string;
  reason: string;
  count: number;
}

/** A dimension the overview ranks: the audit column it groups by. */
export type TopDimension = 'user' | 'token' | 'client' | 'path';

/** One value of a dimension in a range: its requests and refusals (decision deny, rate-limited included). */
export interface TopGroup {
  key: string;
  requests: number;
  refusals: number;
}

export interface AuditStore {
  /** This process's replica name: the chains it appends to. */
  readonly replica: string;
  /** The writer of this replica's request chain (SQLite: a worker thread unless 'inline'). */
  requestWriter(mode: 'worker' | 'inline'): AuditBatchWriter;
  /** Appends one admin row to this replica's admin chain; its id. Throws when it cannot be stored. */
  appendAdmin(row: NewAdminRow): Promise<number>;
  /** Request rows matching the filters, newest first, keyset-paged. */
  page(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]>;
  /** The same, oldest first (exports read in chunks of `limit`). */
  chunk(filters: AuditFilters, req: AuditPageRequest): Promise<AuditRow[]>;
  /** How many request rows match (progress bars). */
  count(filters: AuditFilters): Promise<number>;
  /** Admin rows, newest first, in (time, replica, id) keyset pages. */
  adminPage(req: AuditPageRequest): Promise<AdminAuditRow[]>;
  /** Every chain present (each replica's request and admin chain). */
  chains(): Promise<ChainId[]>;
  /** Walks one chain in id order from its anchor; onProgress every 10,000 rows. */
  verify(chain: ChainId, onProgress?: (checked: number) => void): Promise<ChainReport>;
  /** One retention pass: by age over every chain, then by count (oldest first across replicas). */
  prune(settings: RetentionSettings): Promise<RetentionResult>;
  /** The overview's grouped counts for [start, end). */
  overview(start: number, end: number): Promise<OverviewGroup[]>;
  /**
   * The `limit` values of a dimension with the most requests in [start, end), and separately the
   * `limit` with the most refusals (only values with at least one); ties by key. Rows without a value
   * (no user, no token…) are left out. Two grouped queries over the time range.
   */
  top(start: number, end: number, dimension: TopDimension, limit: number): Promise<{ byRequests: TopGroup[]; byRefusals: TopGroup[] }>;

  // ---- copying a store (store/copy.ts): rows move as stored, never re-hashed, so the copy verifies
  // exactly as the original did and keeps its head hashes.
  /** The chain's retention anchor; undefined when nothing was ever pruned from it. */
  anchorOf(chain: ChainId): Promise<ChainAnchor | undefined>;
  /** The head a writer would link onto. */
  headOf(chain: ChainId): Promise<ChainHead>;
  /** Up to `limit` rows of the chain with an id above `afterId`, in id order. */
  readChain(chain: ChainId, afterId: number, limit: number): Promise<ChainRows>;
  /**
   * Stores rows read by another store's readChain as they are, in one transaction: nothing is
   * hashed or checked here (verify judges the result). Each row's replica must be the chain's; on
   * SQLite, which holds one replica, the chain must be this store's replica.
   */
  restoreChain(chain: ChainId, rows: ChainRows): Promise<void>;
  /** Sets the chain's anchor to one read by anchorOf (the same conditions as restoreChain). */
  restoreAnchor(chain: ChainId, anchor: ChainAnchor): Promise<void>;
}
