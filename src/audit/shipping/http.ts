// HTTP shipping: each batch one POST, confirmed by a 2xx answer; any other answer (or none within
// audit.shipping.timeoutMs) fails the whole batch, which is sent again. Three bodies:
// - ndjson: the NDJSON export's lines (one JSON object per row, the export's fields);
// - splunk-hec: HTTP Event Collector envelopes, one per row ({time, host, source, sourcetype,
//   index?, event}), the event being the export's fields; Authorization "Splunk <token>";
// - elastic-bulk: Elasticsearch `_bulk` pairs of a `create` action (the document id is the row's
//   hash, so a batch sent twice stores each row once, while a row of a new database that happens to
//   have an old replica and id is still a new document) and the document (the export's fields and
//   @timestamp). A 200 answer whose items failed fails the batch, except items refused as already
//   there (409).
import type { AuditRow } from '../../store/audit-store.js';
import { safeTarget, shippedFields, type Destination } from './destination.js';

export type HttpFormat = 'ndjson' | 'splunk-hec' | 'elastic-bulk';

/** Splunk's `source` and `sourcetype` of every event. */
export const HEC_SOURCE = 'jira-auth-sidecar';
export const HEC_SOURCETYPE = 'jira-auth-sidecar:audit';

/** The Elasticsearch document id of a row: its row hash (SHA-256 over its id, fields and the link before it). */
export const elasticId = (r: Pick<AuditRow, 'rowHash'>) => r.rowHash;

/** A batch as the request body of the format. */
export function httpBody(rows: readonly AuditRow[], format: HttpFormat, index?: string): { body: string; contentType: string } {
  let body = '';
  if (format === 'ndjson') {
    for (const r of rows) body += `${JSON.stringify(shippedFields(r))}\n`;
    return { body, contentType: 'application/x-ndjson' };
  }
  if (format === 'splunk-hec') {
    for (const r of rows) {
      body += `${JSON.stringify({ time: r.time / 1000, host: r.replica, source: HEC_SOURCE, sourcetype: HEC_SOURCETYPE, ...(index ? { index } : {}), event: shippedFields(r) })}\n`;
    }
    return { body, contentType: 'application/json' };
  }
  for (const r of rows) {
    const e = shippedFields(r);
    body += `${JSON.stringify({ create: { ...(index ? { _index: index } : {}), _id: elasticId(r) } })}\n${JSON.stringify({ '@timestamp': e.time, ...e })}\n`;
  }
  return { body, contentType: 'application/x-ndjson' };
}

/** The first item of a _bulk answer that failed for another reason than "already there" (409); undefined: none. */
export function bulkFailure(answer: string): string | undefined {
  let j: { errors?: boolean; items?: Array<Record<string, { status?: number; error?: { type?: string; reason?: string } }>> };
  try {
    j = JSON.parse(answer) as typeof j;
  } catch {
    return 'the _bulk answer is not JSON';
  }
  if (!j.errors) return undefined;
  for (const item of j.items ?? []) {
    for (const result of Object.values(item)) {
      const s = result.status ?? 0;
      if ((s >= 200 && s < 300) || s === 409) continue;
      return `item status ${s}${result.error ? `: ${result.error.type ?? ''} ${result.error.reason ?? ''}`.trimEnd() : ''}`;
    }
  }
  return undefined;
}

export interface HttpOptions {
  url: string;
  format: HttpFormat;
  authorization?: string;
  index?: string;
  timeoutMs: number;
}

export class HttpDestination implements Destination {
  readonly name = 'http';
  readonly target: string;

  constructor(private readonly o: HttpOptions) {
    this.target = safeTarget(o.url);
  }

  async send(rows: readonly AuditRow[], signal: AbortSignal): Promise<void> {
    if (rows.length === 0) return;
    const { body, contentType } = httpBody(rows, this.o.format, this.o.index);
    const headers: Record<string, string> = { 'content-type': contentType, 'user-agent': 'jira-auth-sidecar audit shipping' };
    if (this.o.authorization) headers.authorization = this.o.authorization;
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    let res: Response;
    let answer: string;
    try {
      res = await fetch(this.o.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, timeout]) });
      answer = await res.text();
    } catch (e) {
      if (timeout.aborted) throw new Error(`${this.target} did not answer within ${this.o.timeoutMs} ms`);
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`POST ${this.target} failed: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    if (res.status < 200 || res.status > 299) throw new Error(`${this.target} answered ${res.status}: ${answer.slice(0, 200)}`);
    if (this.o.format === 'elastic-bulk') {
      const failed = bulkFailure(answer);
      if (failed) throw new Error(`${this.target} refused part of the batch: ${failed.slice(0, 300)}`);
    }
  }

  async close(): Promise<void> {}
}
