// The audit stage's port: where one row per guarded request goes. The real one (queued, written
// in batches off the request path by the store's writer) is src/audit/sink.ts; tests and `audit.enabled: false` use NullAuditSink.
import type { CredentialKind, RouteKind, StageName } from '../state.js';

export interface AuditRecord {
  /** ms since epoch */
  time: number;
  requestId: string;
  decision: 'allow' | 'deny' | 'passthrough' | 'error';
  /** The error code, or "allowed". */
  reason: string;
  status: number;
  method: string;
  /** Canonical path (query redacted and dropped). */
  path: string;
  clientIp: string;
  user: string | null;
  credentialKind: CredentialKind | null;
  tokenId: string | null;
  clientId: string | null;
  issuer: string | null;
  latencyMs: number;
  upstreamStatus: number | null;
  route: RouteKind | null;
  stage: StageName | null;
  rule: string | null;
  /** The code a rule in report mode would have refused with (the first, when several would have). */
  wouldDeny: string | null;
  /** The caller's User-Agent (at most 256 characters): who still uses a credential kind. */
  userAgent: string | null;
  /** The decision facts replay reads (pipeline/audit/facts.ts), as compact JSON; never a secret. */
  facts: string | null;
}

export interface AuditSink {
  /** False when a row cannot be accepted right now (queue full, disk full): audit.onFailure decides. */
  isAccepting(): boolean;
  /** Queue one row; returns false if it could not be queued (counted and logged by the sink). */
  write(record: AuditRecord): boolean;
  /** Write everything queued (clean shutdown). */
  close(): Promise<void>;
  /** Start-up warm-up (http/warm-up.ts): have the writer ready (e.g. its worker thread started) before real traffic. */
  warm?(): Promise<void>;
  /** Start-up warm-up: prepare a row exactly as write() would (encoding it), then drop it: nothing is queued or written. */
  rehearse?(record: AuditRecord): void;
}

export class NullAuditSink implements AuditSink {
  readonly records: AuditRecord[] = [];
  constructor(private readonly keep = false) {}
  isAccepting() {
    return true;
  }
  write(r: AuditRecord) {
    if (this.keep) this.records.push(r);
    return true;
  }
  async close() {}
}
