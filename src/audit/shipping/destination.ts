// A SIEM the request log is shipped to (syslog.ts, http.ts): it takes a batch of rows in id order
// and answers once the receiver has them, or fails (the batch is sent again later).
import type { AuditRow } from '../../store/audit-store.js';
import { toEntry, type AuditEntry } from '../query.js';

export type DestinationName = 'syslog' | 'http';

export interface Destination {
  readonly name: DestinationName;
  /** Where, fit for a log line (no credentials). */
  readonly target: string;
  /**
   * Sends the rows, in order, as one batch. Resolves when the receiver took them (HTTP: a 2xx
   * answer; syslog: written to the connection), rejects otherwise: the whole batch is then retried.
   * `signal` aborts it (shutdown).
   */
  send(rows: readonly AuditRow[], signal: AbortSignal): Promise<void>;
  /** Closes connections; the destination is not used again. */
  close(): Promise<void>;
}

/**
 * A row as shipped: exactly the export's fields (audit/query.ts ENTRY_FIELDS, as the NDJSON export
 * writes them), none of which is a secret. The replica and id identify it: a row sent twice arrives
 * with the same pair.
 */
export const shippedFields = (r: AuditRow): AuditEntry => toEntry(r);

/** A target for logs: the URL without user info, query or fragment. */
export function safeTarget(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}
