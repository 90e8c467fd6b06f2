// The storage of one sidecar, one interface per concern (STYLE.md §8). The Runtime holds this,
// never a driver handle; SQLite (sqlite/) and PostgreSQL (postgres/) each implement every concern.
import type { TokenStore } from './token-store.js';
import type { AdminStore } from './admin-store.js';
import type { ConfigStore } from './config-store.js';
import type { CredentialStore } from './credential-store.js';
import type { AuditStore } from './audit-store.js';
import type { TokenRequestStore } from './token-request-store.js';
import type { LifecycleStore } from './lifecycle-store.js';
import type { ShippingCursorStore } from './shipping-store.js';
import type { VerdictStore } from './verdict-store.js';

/** Something another process changed: 'config' (a save or a clear), 'tokens' (a revocation). */
export type StoreChange = 'config' | 'tokens';

export interface Stores {
  readonly kind: 'sqlite' | 'postgres';
  readonly tokens: TokenStore;
  readonly admin: AdminStore;
  readonly config: ConfigStore;
  readonly credentials: CredentialStore;
  readonly audit: AuditStore;
  /** API-token requests awaiting (or past) an admin's approval (apiTokens.approval). */
  readonly tokenRequests: TokenRequestStore;
  /** Token lifecycle: warnings noted once, the notification delivery log, the background jobs' lock. */
  readonly lifecycle: LifecycleStore;
  /** Audit shipping: each destination's cursor per chain, and the one-shipper-at-a-time lock. */
  readonly shipping: ShippingCursorStore;
  /** Verdicts (JWTs, introspection answers) handed over from a stopping sidecar to the next start (jwt.cacheHandover, introspection.cacheHandover). */
  readonly verdicts: VerdictStore;
  /**
   * Calls fn soon after any process sharing the store changed something (PostgreSQL LISTEN/NOTIFY; on
   * SQLite never: a file belongs to one sidecar). A hint to act at once: delivery is not guaranteed
   * (a dropped connection loses notifications), so callers keep their periodic checks as the bound.
   */
  onChange(fn: (change: StoreChange) => void): void;
  /** Answers when the store can be read right now (readiness); throws why not. */
  ping(): Promise<void>;
  /** Closes the connections (the SQLite handle, the PostgreSQL pool). */
  close(): Promise<void>;
}
