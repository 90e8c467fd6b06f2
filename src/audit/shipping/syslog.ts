// Syslog shipping: each row one RFC 5424 message, framed by octet counting (RFC 6587 section 3.4.1:
// "<length> <message>"), over TCP (tcp://host:514) or TLS (tls://host:6514, RFC 5425, which uses
// the same framing). One connection, reused; a batch is one write, confirmed once the whole batch
// was handed to the connection. Syslog has no acknowledgement of its own: a receiver that accepted
// the bytes and then lost them is not noticed (audit.shipping.http answers per batch).
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { AuditRow } from '../../store/audit-store.js';
import { ENTRY_FIELDS } from '../query.js';
import { safeTarget, shippedFields, type Destination } from './destination.js';

/**
 * The SD-ID of the structured-data format: a name@<private enterprise number> (RFC 5424 section
 * 7.2.2). 32473 is the number RFC 5612 reserves for documentation and examples.
 */
export const SD_ID = 'jiraAuthSidecar@32473';

/** RFC 5424 MSGID of every message. */
export const MSGID = 'audit';

/** RFC 5424 severity of a row: error 3 (err), deny 4 (warning), allow and passthrough 6 (informational). */
export function severityOf(decision: AuditRow['decision']): number {
  return decision === 'error' ? 3 : decision === 'deny' ? 4 : 6;
}

const BOM = '\uFEFF';

/** A header field: printable US-ASCII only (others become "_"), at most `max` characters, "-" when empty. */
const headerField = (s: string, max: number) => s.replace(/[^!-~]/g, '_').slice(0, max) || '-';

/** PARAM-VALUE escaping (RFC 5424 section 6.3.3): '"', '\' and ']' get a backslash. */
const sdValue = (v: string) => v.replace(/["\\\]]/g, (c) => `\\${c}`);

export interface SyslogFormat {
  facility: number;
  appName: string;
  format: 'json' | 'structured-data';
}

/**
 * One row as an RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG` with
 * the row's time, its replica as HOSTNAME and MSGID "audit". json: no structured data, the body is
 * the row's export fields as one JSON object (the NDJSON export's line); structured-data: the same
 * fields as SD-PARAMs named like the CSV export's columns (a null field is left out), and a short
 * summary as the body. Bodies are UTF-8 and start with a BOM (section 6.4).
 */
export function syslogMessage(row: AuditRow, f: SyslogFormat): string {
  const e = shippedFields(row) as unknown as Record<string, string | number | null>;
  const head = `<${f.facility * 8 + severityOf(row.decision)}>1 ${e.time} ${headerField(row.replica, 255)} ${headerField(f.appName, 48)} - ${MSGID}`;
  if (f.format === 'json') return `${head} - ${BOM}${JSON.stringify(e)}`;
  const params = ENTRY_FIELDS.filter(([k]) => e[k] !== null && e[k] !== undefined).map(([k, col]) => `${col}="${sdValue(String(e[k]))}"`);
  return `${head} [${SD_ID} ${params.join(' ')}] ${BOM}${row.decision} ${row.method} ${row.path} ${row.status} ${row.reason}`;
}

/** RFC 6587 octet counting: the message's length in bytes, a space, the message. */
export const octetCounted = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

export interface SyslogOptions extends SyslogFormat {
  url: string;
  caFile?: string;
  timeoutMs: number;
}

export class SyslogDestination implements Destination {
  readonly name = 'syslog';
  readonly target: string;
  private socket: net.Socket | undefined;
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;

  constructor(private readonly o: SyslogOptions) {
    const u = new URL(o.url);
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port);
    this.tls = u.protocol === 'tls:';
    this.target = safeTarget(o.url);
  }

  async send(rows: readonly AuditRow[], signal: AbortSignal): Promise<void> {
    if (rows.length === 0) return;
    const payload = rows.map((r) => octetCounted(syslogMessage(r, this.o))).join('');
    const s = await this.connection(signal);
    await this.write(s, payload, signal);
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return;
    // A graceful end: what was written is flushed before the FIN (bounded by the timeout).
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => s.destroy(), this.o.timeoutMs);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
    });
  }

  /** The open connection, or a new one. A connection the receiver ended or broke is not reused. */
  private connection(signal: AbortSignal): Promise<net.Socket> {
    const open = this.socket;
    if (open && !open.destroyed && !open.readableEnded && open.writable) return Promise.resolve(open);
    open?.destroy();
    this.socket = undefined;
    return new Promise((resolve, reject) => {
      let ca: Buffer | undefined;
      try {
        if (this.tls && this.o.caFile) ca = readFileSync(this.o.caFile);
      } catch (e) {
        reject(new Error(`cannot read audit.shipping.syslog.caFile: ${(e as Error).message}`));
        return;
      }
      const s = this.tls
        ? tls.connect({ host: this.host, port: this.port, ca, servername: net.isIP(this.host) ? undefined : this.host, minVersion: 'TLSv1.2' })
        : net.connect({ host: this.host, port: this.port });
      const done = (e?: Error) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        s.off('error', done);
        s.off(this.tls ? 'secureConnect' : 'connect', onConnect);
        if (e) {
          s.destroy();
          reject(e);
        }
      };
      const onConnect = () => {
        done();
        s.setNoDelay(true);
        s.setKeepAlive(true, 30_000);
        // Whatever the receiver sends is read and dropped, so its FIN (or a reset) is seen at once.
        s.on('data', () => {});
        s.on('error', () => s.destroy());
        this.socket = s;
        resolve(s);
      };
      const onAbort = () => done(new Error('aborted'));
      const timer = setTimeout(() => done(new Error(`connecting to ${this.target} timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      s.once('error', done);
      s.once(this.tls ? 'secureConnect' : 'connect', onConnect);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Writes the batch; resolves once all of it was handed to the connection. */
  private write(s: net.Socket, payload: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (e?: Error | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        s.off('close', onClose);
        if (e) {
          s.destroy();
          if (this.socket === s) this.socket = undefined;
          reject(e);
        } else resolve();
      };
      const onClose = () => finish(new Error(`the connection to ${this.target} closed`));
      const onAbort = () => finish(new Error('aborted'));
      const timer = setTimeout(() => finish(new Error(`sending to ${this.target} timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
      s.once('close', onClose);
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      s.write(payload, 'utf8', (e) => finish(e));
    });
  }
}
