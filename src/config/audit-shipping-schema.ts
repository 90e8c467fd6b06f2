// audit.shipping (issue 21): the request audit log sent to a SIEM as it is written, at least once
// and in id order per replica chain (audit/shipping/). Syslog (RFC 5424 over TCP with octet
// counting, RFC 6587, or over TLS, RFC 5425) and HTTP (NDJSON, Splunk HEC, Elasticsearch _bulk).
import { z } from 'zod';

/** RFC 5424 section 6.2.1 facilities, by the names syslog daemons use; a number 0-23 is taken too. */
export const SYSLOG_FACILITIES = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11, ntp: 12,
  log_audit: 13, log_alert: 14, clock: 15, local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;
export type SyslogFacilityName = keyof typeof SYSLOG_FACILITIES;
const FACILITY_NAMES = Object.keys(SYSLOG_FACILITIES) as [SyslogFacilityName, ...SyslogFacilityName[]];

/** A facility as configured (a name or its number) -> its number. */
export const facilityCode = (f: number | SyslogFacilityName): number => (typeof f === 'number' ? f : SYSLOG_FACILITIES[f]);

const rows = () => z.number().int().min(1).max(10_000);
const intervalMs = () => z.number().int().min(10).max(3_600_000);

/** tcp://host:port or tls://host:port; the port is required (514 and 6514 are the usual ones). */
const syslogUrl = z.string().superRefine((v, ctx) => {
  let u: URL | undefined;
  try {
    u = new URL(v);
  } catch {
    /* below */
  }
  if (!u || (u.protocol !== 'tcp:' && u.protocol !== 'tls:') || !u.hostname || !u.port || (u.pathname !== '' && u.pathname !== '/') || u.search || u.username) {
    ctx.addIssue({ code: 'custom', message: 'must be tcp://host:port or tls://host:port, e.g. tcp://siem.example.com:514 or tls://siem.example.com:6514' });
  }
});

/** A printable US-ASCII token of 1-48 characters (RFC 5424 APP-NAME). */
const appName = z.string().regex(/^[!-~]{1,48}$/, '1-48 printable ASCII characters, no spaces (RFC 5424 APP-NAME)');

export const auditShippingSchema = z
  .strictObject({
    syslog: z
      .strictObject({
        enabled: z.boolean().default(false),
        /** tcp://host:514 (RFC 6587 octet counting) or tls://host:6514 (RFC 5425). */
        url: syslogUrl.optional(),
        /** PEM CA bundle to verify a tls:// receiver with (else the system's CAs). */
        caFile: z.string().min(1, 'must not be empty').optional(),
        appName: appName.default('jira-auth-sidecar'),
        facility: z
          .union([z.number().int().min(0).max(23), z.enum(FACILITY_NAMES)], {
            error: `a number 0-23 or one of ${FACILITY_NAMES.join(', ')}`,
          })
          .default('log_audit'),
        /** json: the export's fields as a JSON message body; structured-data: the same fields as RFC 5424 SD-PARAMs. */
        format: z.enum(['json', 'structured-data'], { error: 'must be "json" or "structured-data"' }).default('json'),
        batchRows: rows().default(500),
        flushIntervalMs: intervalMs().default(1000),
      })
      .prefault({})
      .superRefine((v, ctx) => {
        if (v.enabled && !v.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when syslog shipping is enabled (e.g. tcp://siem.example.com:514 or tls://siem.example.com:6514)' });
        if (v.caFile && v.url?.startsWith('tcp:')) ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'only used with a tls:// URL' });
      }),
    http: z
      .strictObject({
        enabled: z.boolean().default(false),
        url: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL, e.g. https://splunk.example.com:8088/services/collector/event' }).optional(),
        /** ndjson: one export line per row; splunk-hec: HEC event envelopes; elastic-bulk: _bulk create/doc pairs. */
        format: z.enum(['ndjson', 'splunk-hec', 'elastic-bulk'], { error: 'must be "ndjson", "splunk-hec" or "elastic-bulk"' }).default('ndjson'),
        /** The whole Authorization header ("Splunk <HEC token>", "ApiKey <base64>", "Bearer …"); a secret (masked). */
        authorization: z.string().optional(),
        /** Elasticsearch: the index (or data stream) of each document; Splunk HEC: the event's index. */
        index: z.string().min(1, 'must not be empty').optional(),
        batchRows: rows().default(500),
        flushIntervalMs: intervalMs().default(1000),
      })
      .prefault({})
      .superRefine((v, ctx) => {
        if (v.enabled && !v.url) ctx.addIssue({ code: 'custom', path: ['url'], message: 'required when HTTP shipping is enabled (e.g. https://siem.example.com/ingest)' });
        if (v.format === 'elastic-bulk' && v.url && !v.index) {
          let named = false;
          try {
            named = /^\/[^/_][^/]*\/_bulk\/?$/.test(new URL(v.url).pathname);
          } catch {
            /* reported by the url check */
          }
          if (!named) ctx.addIssue({ code: 'custom', path: ['index'], message: 'required for elastic-bulk unless the URL names the index (https://es.example.com:9200/INDEX/_bulk)' });
        }
      }),
    /** A failed batch is retried after 1 s, then twice as long each time, at most this long. */
    maxBackoffMs: z.number().int().min(100).max(3_600_000).default(60_000),
    /** Connecting, and each batch until the receiver confirmed it, gives up after this long (then: retried). */
    timeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .prefault({});

export type AuditShippingConfig = z.output<typeof auditShippingSchema>;
