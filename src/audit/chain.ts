// The audit hash chain's format, pure (no database): row_hash = SHA-256(prev_hash || canonical row
// JSON), where the canonical JSON is the array of the row's columns in the fixed order below (an
// array has no key-order ambiguity; the id is included so renumbering is detected too). The first
// row of a chain links to GENESIS, or to the anchor left by retention. Both backends (store/sqlite,
// store/postgres) write and verify with these functions, so a row copied between them keeps its hash.
//
// What it proves: an edited, deleted or inserted row breaks the link at that row, unless the
// attacker rewrites every later row too. Keep the head hash that `audit verify` prints somewhere
// else (a ticket, a SIEM) to detect that as well.
import { hash } from 'node:crypto';
import type { AdminAuditRow, AuditRow, ChainBreak, ChainId, ChainReport } from '../store/audit-store.js';

export const GENESIS = '0'.repeat(64);

/** Columns hashed, in order (snake_case as stored). */
export const REQUEST_COLUMNS = [
  'id', 'time', 'request_id', 'decision', 'reason', 'status', 'method', 'path', 'client_ip', 'user', 'credential_kind',
  'token_id', 'client_id', 'issuer', 'latency_ms', 'upstream_status', 'route', 'stage', 'rule',
  // 0.7 (issue 18): the report-only refusal, the caller's User-Agent and the decision facts replay reads.
  'would_deny', 'user_agent', 'facts',
] as const;
/**
 * Request columns every row hashes; the later ones (added in 0.7) are hashed only up to the last
 * non-null one, so a row written before they existed keeps its hash: the canonical JSON of a row is
 * its values with trailing nulls past this many columns left out (encodeRow writes the same).
 */
export const REQUEST_REQUIRED_COLUMNS = 19;

/** Drops trailing nulls past the required request columns (in place): the canonical value list. */
export function trimOptionalTail<T>(values: T[], required = REQUEST_REQUIRED_COLUMNS): T[] {
  while (values.length > required && values[values.length - 1] === null) values.pop();
  return values;
}
export const ADMIN_COLUMNS = ['id', 'time', 'actor', 'action', 'target', 'before_json', 'after_json'] as const;

export type ChainRow = Record<string, string | number | null>;

/** A request row as the store's record -> its stored columns (snake_case), its links included. */
export const requestColumnsOf = (r: AuditRow): ChainRow => ({
  id: r.id, time: r.time, request_id: r.requestId, decision: r.decision, reason: r.reason, status: r.status, method: r.method, path: r.path,
  client_ip: r.clientIp, user: r.user, credential_kind: r.credentialKind, token_id: r.tokenId, client_id: r.clientId, issuer: r.issuer,
  latency_ms: r.latencyMs, upstream_status: r.upstreamStatus, route: r.route, stage: r.stage, rule: r.rule,
  would_deny: r.wouldDeny, user_agent: r.userAgent, facts: r.facts, prev_hash: r.prevHash, row_hash: r.rowHash,
});

/** An admin row as the store's record -> its stored columns (snake_case), its links included. */
export const adminColumnsOf = (r: AdminAuditRow): ChainRow => ({
  id: r.id, time: r.time, actor: r.actor, action: r.action, target: r.target, before_json: r.beforeJson, after_json: r.afterJson,
  prev_hash: r.prevHash, row_hash: r.rowHash,
});

/** SHA-256(prev_hash || JSON.stringify([col1, col2, ...])) as lower-case hex. */
export function hashRow(prevHash: string, row: ChainRow, columns: readonly string[]): string {
  const values = columns.map((c) => row[c] ?? null);
  return hashValues(prevHash, columns === REQUEST_COLUMNS ? trimOptionalTail(values) : values);
}

/** hashRow for a row already laid out as its column values in chain order. */
export function hashValues(prevHash: string, values: ReadonlyArray<string | number | null>): string {
  return hashCanonical(prevHash, JSON.stringify(values));
}

/** hashRow for a row whose canonical JSON is already at hand. */
export function hashCanonical(prevHash: string, rowJson: string): string {
  // One-shot hash of the concatenation: the same digest as update(prev).update(json), half the cost.
  return hash('sha256', prevHash + rowJson, 'hex');
}

/**
 * One chain walked row by row in id order from its anchor (or GENESIS): the judgement `audit verify`
 * makes, the same on every backend. `step` returns the report of the first break, `done` the report
 * of a chain that held.
 */
export class ChainWalk {
  private prevId: number;
  private prevHash: string;
  private count = 0;
  private readonly anchorId: number;

  constructor(
    private readonly chain: ChainId,
    anchor: { id: number; hash: string } | undefined,
    private readonly columns: readonly string[],
    private readonly onProgress?: (checked: number) => void,
  ) {
    this.prevId = anchor?.id ?? 0;
    this.prevHash = anchor?.hash ?? GENESIS;
    this.anchorId = this.prevId;
  }

  step(row: ChainRow): ChainReport | undefined {
    this.count++;
    const id = row.id as number;
    const fail = (problem: ChainBreak['problem'], detail: string): ChainReport => ({ ...this.report(false), break: { id, problem, detail } });
    if (row.prev_hash !== this.prevHash) {
      return id !== this.prevId + 1
        ? fail('missing_before', `row ${id} follows row ${this.prevId}: ${id - this.prevId - 1} row(s) missing or the chain was re-linked`)
        : fail('prev_hash_mismatch', `row ${id} does not link to row ${this.prevId} (row inserted, removed or re-linked)`);
    }
    if (id !== this.prevId + 1) return fail('missing_before', `row ${id} follows row ${this.prevId}: ids must be consecutive`);
    if (row.row_hash !== hashRow(this.prevHash, row, this.columns)) return fail('edited', `row ${id} does not match its hash (contents changed)`);
    this.prevId = id;
    this.prevHash = row.row_hash as string;
    if (this.onProgress && this.count % 10_000 === 0) this.onProgress(this.count);
    return undefined;
  }

  done(): ChainReport {
    return this.report(true);
  }

  private report(ok: boolean): ChainReport {
    return { chain: this.chain, ok, count: this.count, anchorId: this.anchorId, headId: this.prevId, headHash: this.prevHash };
  }
}
