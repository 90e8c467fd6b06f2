// Streamed exports of the audit log (GET /api/audit/export, `audit export`): the filtered rows,
// oldest first, as CSV or NDJSON. Read from the store in keyset chunks of EXPORT_CHUNK rows, one
// chunk per _read(), so memory stays flat whatever the range and a slow consumer holds at most a
// chunk or two.
import { Readable } from 'node:stream';
import type { AuditFilters, AuditPosition, AuditRow, AuditStore } from '../store/audit-store.js';
import { ENTRY_FIELDS } from './query.js';

// ---- CSV (RFC 4180) ----

/** A cell a spreadsheet would run as a formula (OWASP "CSV injection"): = + - @ TAB CR. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * One CSV field: neutralised with a leading ' when it starts like a formula, then quoted (RFC 4180
 * section 2.6-2.7) when it contains a comma, a double quote, CR or LF. Numbers are written as they are.
 */
export function csvCell(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  let s = FORMULA_START.test(v) ? `'${v}` : v;
  if (/[",\r\n]/.test(s)) s = `"${s.replace(/"/g, '""')}"`;
  return s;
}

const KEYS = ENTRY_FIELDS.map(([k]) => k as keyof AuditRow);

export const csvHeader = () => `${ENTRY_FIELDS.map(([, col]) => col).join(',')}\r\n`;
/** One row as a CSV line; time as ISO 8601. */
const csvLine = (r: AuditRow) => `${KEYS.map((k) => (k === 'time' ? new Date(r.time).toISOString() : csvCell(r[k] as string | number | null))).join(',')}\r\n`;
const ndjsonLine = (r: AuditRow) => {
  const e: Record<string, unknown> = {};
  for (const k of KEYS) e[k] = k === 'time' ? new Date(r.time).toISOString() : r[k];
  return `${JSON.stringify(e)}\n`;
};

export type ExportFormat = 'csv' | 'ndjson';

export const EXPORT_CHUNK = 1000;

export interface ExportOptions {
  /** Called after each chunk with the rows written so far (progress bars). */
  onRows?: (total: number) => void;
}

/** The filtered rows, oldest first, as a byte stream in CSV (with a header line, CRLF line ends) or NDJSON. */
export function exportAudit(store: AuditStore, filters: AuditFilters, format: ExportFormat, opts: ExportOptions = {}): Readable {
  const line = format === 'csv' ? csvLine : ndjsonLine;
  let after: AuditPosition | undefined;
  let total = 0;
  let headerSent = format !== 'csv';
  let reading = false;
  return new Readable({
    highWaterMark: 256 * 1024,
    read() {
      // One chunk at a time: a _read() while the store answers would read the same chunk again.
      if (reading) return;
      reading = true;
      store
        .chunk(filters, { limit: EXPORT_CHUNK, after })
        .then((rows) => {
          reading = false;
          let out = '';
          if (!headerSent) {
            out = csvHeader();
            headerSent = true;
          }
          for (const r of rows) out += line(r);
          const last = rows[rows.length - 1];
          if (last) {
            after = { time: last.time, replica: last.replica, id: last.id };
            total += rows.length;
            opts.onRows?.(total);
          }
          if (out) this.push(out);
          if (rows.length < EXPORT_CHUNK) this.push(null);
        })
        .catch((e: unknown) => this.destroy(e as Error));
    },
  });
}
