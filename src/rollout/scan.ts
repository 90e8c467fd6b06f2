// Recorded requests of a period, oldest first, in keyset chunks: what the readiness report and
// replay read. Memory stays flat whatever the period (one chunk at a time).
import type { AuditFilters, AuditPosition, AuditRow, AuditStore } from '../store/audit-store.js';

export const SCAN_CHUNK = 5000;

export interface ScanOptions {
  /** Called after each chunk: rows read so far, and the total the period holds (counted once at the start). */
  onProgress?: (read: number, total: number) => void;
  /** Stops between chunks. */
  signal?: AbortSignal;
  chunk?: number;
}

/** Every row matching `filters`, oldest first, handed to `visit` one by one; the number of rows read. */
export async function scanRows(store: AuditStore, filters: AuditFilters, visit: (row: AuditRow) => void, opts: ScanOptions = {}): Promise<number> {
  const total = opts.onProgress ? await store.count(filters) : 0;
  const limit = opts.chunk ?? SCAN_CHUNK;
  let after: AuditPosition | undefined;
  let read = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    const rows = await store.chunk(filters, after ? { limit, after } : { limit });
    for (const r of rows) visit(r);
    read += rows.length;
    opts.onProgress?.(read, Math.max(total, read));
    if (rows.length < limit) return read;
    const last = rows[rows.length - 1]!;
    after = { time: last.time, replica: last.replica, id: last.id };
  }
}

/** "7d", "24h", "90m", "2w" or "3600s" -> milliseconds; undefined when not a duration. */
export function parseDuration(s: string): number | undefined {
  const m = /^(\d{1,6})\s*(s|m|h|d|w)$/.exec(s.trim());
  if (!m) return undefined;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}
