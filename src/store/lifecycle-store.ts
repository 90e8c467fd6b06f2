// The token lifecycle's own storage (issue 19): warnings noted once per token, the notification
// delivery log, and the background jobs' one-replica-at-a-time lock and last run. Implemented by
// sqlite/lifecycle.ts and postgres/lifecycle.ts, pinned by test/store/conformance/lifecycle.ts.
// Times are ms since the epoch. Nothing here ever holds a token secret.

export type DeliveryChannel = 'email' | 'webhook';
export type DeliveryStatus = 'pending' | 'sent' | 'failed';

/** One message to a token owner (e-mail) or to the webhook, and how its delivery went. */
export interface DeliveryRecord {
  /** "dlv_…", chosen by the caller. */
  id: string;
  /** When it was queued. */
  time: number;
  channel: DeliveryChannel;
  /** token.expiring, token.unused, token.revoked, test … */
  event: string;
  tokenId: string | null;
  owner: string | null;
  /** The e-mail address, or the webhook URL without credentials. */
  target: string;
  status: DeliveryStatus;
  attempts: number;
  lastError: string | null;
  sentAt: number | null;
}

export type DeliveryUpdate = Pick<DeliveryRecord, 'status' | 'attempts' | 'lastError' | 'sentAt'>;

/** A warning noted for a token: `kind` as the caller names it ("expiry:7", "unused:1:<basis>"). */
export interface TokenWarning {
  tokenId: string;
  kind: string;
  at: number;
}

/** When a job last ran, and on which replica. */
export interface JobRun {
  name: string;
  at: number;
  replica: string;
}

/** What withJobLock did: ran fn (and its value), or skipped because another process holds the lock. */
export type Locked<T> = { ran: true; value: T } | { ran: false };

/** Everything `store copy` moves: warnings and the delivery log (job runs are this install's own). */
export interface LifecycleDump {
  warnings: TokenWarning[];
  deliveries: DeliveryRecord[];
}

/** listDeliveries: at most this many rows per call, whatever is asked. */
export const MAX_DELIVERIES_PAGE = 1000;

export interface LifecycleStore {
  /** Notes a warning unless it is noted already; true when this call noted it (so: send it now). */
  noteWarning(tokenId: string, kind: string, at: number): Promise<boolean>;
  /** The warnings noted for a token, oldest first (ties by kind). */
  warnings(tokenId: string): Promise<TokenWarning[]>;
  /** Forgets every warning of these tokens (they were deleted). */
  forgetWarnings(tokenIds: readonly string[]): Promise<void>;

  /** Adds a delivery to the log; a duplicate id is an error. */
  recordDelivery(d: DeliveryRecord): Promise<void>;
  /** Updates a delivery's state; false when there is no such delivery. */
  updateDelivery(id: string, u: DeliveryUpdate): Promise<boolean>;
  /** Newest first (ties by id, descending); `limit` defaults to 100 and is capped at MAX_DELIVERIES_PAGE. */
  listDeliveries(q?: { limit?: number; tokenId?: string }): Promise<DeliveryRecord[]>;
  /** Deletes deliveries queued before `before`; how many. */
  pruneDeliveries(before: number): Promise<number>;

  /**
   * Runs fn while holding the job's lock: on PostgreSQL a session advisory lock, so a job runs on
   * one replica at a time and a replica that does not get the lock skips the run ({ran: false});
   * on SQLite (one process per database) fn always runs.
   */
  withJobLock<T>(name: string, fn: () => Promise<T>): Promise<Locked<T>>;
  /**
   * Stamps a run of the job at `at` (by this replica) unless another was stamped less than
   * `minGapMs` before; true when this call stamped it. A stamp in the future (a clock set back)
   * does not block. Inside withJobLock, this makes a scheduled job run once per interval in a cluster.
   */
  claimRun(name: string, at: number, minGapMs: number): Promise<boolean>;
  lastRun(name: string): Promise<JobRun | undefined>;

  // ---- copying a store (store/copy.ts)
  dump(): Promise<LifecycleDump>;
  /** Stores a dump as it was, in one transaction; a duplicate is an error. */
  restore(d: LifecycleDump): Promise<void>;
}
