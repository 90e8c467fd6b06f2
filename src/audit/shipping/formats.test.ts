// The shipped wire formats, pure: RFC 5424 messages and RFC 6587 framing (syslog.ts), and the
// HTTP bodies and the _bulk answer check (http.ts). The receivers' side is
// test/integration/audit-shipping.test.ts.
import { describe, expect, it } from 'vitest';
import type { AuditRow } from '../../store/audit-store.js';
import { octetCounted, severityOf, syslogMessage } from './syslog.js';
import { bulkFailure, httpBody } from './http.js';

const row = (over: Partial<AuditRow> = {}): AuditRow => ({
  replica: 'host-a:8090', id: 7, time: Date.UTC(2026, 0, 2, 3, 4, 5, 678), requestId: 'req-7', decision: 'deny', reason: 'read_only', status: 403,
  method: 'POST', path: '/rest/api/2/issue', clientIp: '10.0.0.9', user: 'alice', credentialKind: 'jwt', tokenId: null, clientId: 'app-1',
  issuer: 'entra', latencyMs: 4, upstreamStatus: null, route: 'guarded', stage: 'authorize', rule: 'readOnlyGroups', wouldDeny: null,
  userAgent: 'curl "8" ]x\\y ü', facts: null, prevHash: 'a'.repeat(64), rowHash: 'b'.repeat(64), ...over,
});

const ENTRY = {
  id: 7, time: '2026-01-02T03:04:05.678Z', requestId: 'req-7', decision: 'deny', reason: 'read_only', status: 403, method: 'POST', path: '/rest/api/2/issue',
  clientIp: '10.0.0.9', user: 'alice', credentialKind: 'jwt', tokenId: null, clientId: 'app-1', issuer: 'entra', latencyMs: 4, upstreamStatus: null,
  route: 'guarded', stage: 'authorize', rule: 'readOnlyGroups', prevHash: 'a'.repeat(64), rowHash: 'b'.repeat(64), replica: 'host-a:8090',
  wouldDeny: null, userAgent: 'curl "8" ]x\\y ü', facts: null,
};

describe('syslog (RFC 5424 message, RFC 6587 octet counting)', () => {
  it.each([
    ['error', 3],
    ['deny', 4],
    ['allow', 6],
    ['passthrough', 6],
  ] as const)('severity of %s is %i', (decision, sev) => expect(severityOf(decision)).toBe(sev));

  it('json: PRI, the row time, replica as HOSTNAME, no structured data, the export object after a BOM', () => {
    expect(syslogMessage(row(), { facility: 13, appName: 'jira-auth-sidecar', format: 'json' })).toBe(
      `<108>1 2026-01-02T03:04:05.678Z host-a:8090 jira-auth-sidecar - audit - \uFEFF${JSON.stringify(ENTRY)}`,
    );
  });

  it('structured-data: CSV column names, null fields left out, " \\ ] escaped, a summary as the body', () => {
    const m = syslogMessage(row(), { facility: 20, appName: 'jas', format: 'structured-data' });
    expect(m).toBe(
      '<164>1 2026-01-02T03:04:05.678Z host-a:8090 jas - audit [jiraAuthSidecar@32473 id="7" time="2026-01-02T03:04:05.678Z" request_id="req-7" decision="deny" ' +
        'reason="read_only" status="403" method="POST" path="/rest/api/2/issue" client_ip="10.0.0.9" user="alice" credential_kind="jwt" client_id="app-1" ' +
        `issuer="entra" latency_ms="4" route="guarded" stage="authorize" rule="readOnlyGroups" prev_hash="${'a'.repeat(64)}" row_hash="${'b'.repeat(64)}" ` +
        'replica="host-a:8090" user_agent="curl \\"8\\" \\]x\\\\y ü"] \uFEFFdeny POST /rest/api/2/issue 403 read_only',
    );
  });

  it('a HOSTNAME outside printable US-ASCII is made printable, at most 255 characters', () => {
    const m = syslogMessage(row({ replica: `web 1 ü${'x'.repeat(300)}` }), { facility: 1, appName: 'a', format: 'json' });
    expect(m.split(' ')[2]).toBe(`web_1__${'x'.repeat(248)}`);
  });

  it('octet counting counts UTF-8 bytes, not characters', () => {
    expect(octetCounted('ü1')).toBe('3 ü1');
    expect(octetCounted('<14>1 - - - - - -')).toBe('17 <14>1 - - - - - -');
  });
});

describe('HTTP bodies', () => {
  it('ndjson: the NDJSON export line per row', () => {
    expect(httpBody([row(), row({ id: 8 })], 'ndjson')).toEqual({
      contentType: 'application/x-ndjson',
      body: `${JSON.stringify(ENTRY)}\n${JSON.stringify({ ...ENTRY, id: 8 })}\n`,
    });
  });

  it('splunk-hec: one event envelope per row, the index only when set', () => {
    const env = { time: 1767323045.678, host: 'host-a:8090', source: 'jira-auth-sidecar', sourcetype: 'jira-auth-sidecar:audit' };
    expect(httpBody([row()], 'splunk-hec').body).toBe(`${JSON.stringify({ ...env, event: ENTRY })}\n`);
    expect(JSON.parse(httpBody([row()], 'splunk-hec', 'siem').body)).toEqual({ ...env, index: 'siem', event: ENTRY });
  });

  it('elastic-bulk: a create action (id: the row hash) and the document with @timestamp, per row', () => {
    const lines = httpBody([row()], 'elastic-bulk', 'audit').body.split('\n');
    expect(lines.map((l) => (l ? JSON.parse(l) : l))).toEqual([{ create: { _index: 'audit', _id: 'b'.repeat(64) } }, { '@timestamp': ENTRY.time, ...ENTRY }, '']);
    expect(JSON.parse(httpBody([row()], 'elastic-bulk').body.split('\n')[0]!)).toEqual({ create: { _id: 'b'.repeat(64) } });
  });

  it.each([
    ['no errors', { errors: false, items: [{ create: { status: 201 } }] }, undefined],
    ['only "already there" (409)', { errors: true, items: [{ create: { status: 201 } }, { create: { status: 409, error: { type: 'version_conflict_engine_exception' } } }] }, undefined],
    ['a refused item', { errors: true, items: [{ create: { status: 201 } }, { create: { status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } }] }, 'item status 429: es_rejected_execution_exception queue full'],
  ])('bulkFailure: %s', (_name, answer, failure) => expect(bulkFailure(JSON.stringify(answer))).toBe(failure));

  it('bulkFailure: an answer that is not JSON fails the batch', () => expect(bulkFailure('<html>')).toBe('the _bulk answer is not JSON'));
});
