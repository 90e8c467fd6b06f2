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

export const GENESIS = '0'.repeat(64);

/** Columns hashed, in order (snake_case as stored). */
export const REQUEST_COLUMNS = [
  'id', 'time', 'request_id', 'decision', 'reason', 'status', 'method', 'path', 'client_ip', 'user', 'credential_kind',
  'token_id', 'client_id', 'issuer', 'latency_ms', 'upstream_status', 'route', 'stage', 'rule',
] as const;
export const ADMIN_COLUMNS = ['id', 'time', 'actor', 'action', 'target', 'before_json', 'after_json'] as const;

export type ChainRow = Record<string, string | number | null>;

/** SHA-256(prev_hash || JSON.stringify([col1, col2, ...])) as lower-case hex. */
export function hashRow(prevHash: string, row: ChainRow, columns: readonly string[]): string {
  return hashValues(prevHash, columns.map((c) => row[c] ?? null));
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
