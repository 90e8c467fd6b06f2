import { describe, expect, it } from 'vitest';
import { auditFixture, auditRecord, disposeFixture, verifyChain } from '../../../test/helpers/audit.js';
import type { AuditRecord } from '../../pipeline/audit/sink.js';
import { GENESIS, hashCanonical, hashRow, REQUEST_COLUMNS } from '../../audit/chain.js';
import { encodeRow, rowJson } from '../../audit/encode.js';
import { requestChainWriter, writeErrorKind } from './audit-writer.js';

// The worker reports a kind, not an Error: the main side's counters and readiness depend on it.
describe('writeErrorKind', () => {
  it.each([
    ['SQLITE_BUSY', 'busy'],
    ['SQLITE_BUSY_SNAPSHOT', 'busy'],
    ['SQLITE_LOCKED', 'busy'],
    ['SQLITE_FULL', 'storage_full'],
    ['ENOSPC', 'storage_full'],
    ['SQLITE_IOERR_WRITE', 'write_failed'],
    ['SQLITE_CONSTRAINT_TRIGGER', 'write_failed'],
    [undefined, 'write_failed'],
  ])('%s -> %s', (code, kind) => {
    expect(writeErrorKind(Object.assign(new Error('x'), { code }))).toBe(kind);
  });
});

// The writer hashes the encoded text as it is (rowJson) instead of serializing the row again: that
// text must be exactly the canonical JSON audit verify recomputes from the stored columns. The
// expected side is built by hand from the record, not by the code under test.
describe('encodeRow / rowJson', () => {
  const odd: AuditRecord[] = [
    auditRecord(1),
    auditRecord(2, { user: 'lone \ud800 surrogate', path: '/rest/"quoted"\\back\u0001ctl', issuer: 'https://login.microsoftonline.com/ténant/v2.0' }),
    auditRecord(3, { latencyMs: 2.5, time: 1_767_225_600_000.7, upstreamStatus: null, tokenId: 'tok-1', clientId: null, rule: 'r\u2028line' }),
    auditRecord(4, { user: null, credentialKind: null, issuer: null, route: null, stage: null, latencyMs: -1, requestId: '😀'.repeat(3) }),
    // The 0.7 columns: hashed up to the last one set (trailing nulls past the 0.6 columns are not hashed).
    auditRecord(5, { wouldDeny: 'read_only', userAgent: 'curl/8 \ud800', facts: '{"v":1,"g":["a"]}' }),
    auditRecord(6, { userAgent: 'jira.js' }),
  ];
  /** The canonical value list: the 0.6 columns, then the 0.7 ones up to the last non-null one (written by hand). */
  const canonical = (row: Record<string, unknown>) => {
    const values = REQUEST_COLUMNS.map((c) => row[c]);
    while (values.length > 19 && values[values.length - 1] === null) values.pop();
    return values;
  };
  const expectedRow = (r: AuditRecord, id: number) => ({
    id,
    time: Math.trunc(r.time),
    request_id: r.requestId.toWellFormed(),
    decision: r.decision,
    reason: r.reason,
    status: r.status,
    method: r.method,
    path: r.path.toWellFormed(),
    client_ip: r.clientIp,
    user: r.user?.toWellFormed() ?? null,
    credential_kind: r.credentialKind,
    token_id: r.tokenId,
    client_id: r.clientId,
    issuer: r.issuer,
    latency_ms: Math.max(0, Math.round(r.latencyMs)),
    upstream_status: r.upstreamStatus,
    route: r.route,
    stage: r.stage,
    rule: r.rule,
    would_deny: r.wouldDeny,
    user_agent: r.userAgent?.toWellFormed() ?? null,
    facts: r.facts,
  });

  it.each(odd.map((r, i) => [i, r] as const))('record %i: the canonical JSON and hash of the stored row', (_, r) => {
    for (const id of [1, 42, 9_007_199_254_740_991]) {
      const row = expectedRow(r, id);
      expect(rowJson(id, encodeRow(r))).toBe(JSON.stringify(canonical(row)));
      expect(hashCanonical(GENESIS, rowJson(id, encodeRow(r)))).toBe(hashRow(GENESIS, row, REQUEST_COLUMNS));
    }
  });

  it('written through requestChainWriter, every column holds its own field and the chain verifies', async () => {
    const fx = auditFixture();
    try {
      requestChainWriter(fx.db)(odd.map(encodeRow), 10_000);
      const rows = fx.db.prepare('SELECT * FROM audit_log ORDER BY id').all() as Array<Record<string, unknown>>;
      expect(rows.map(({ prev_hash: _p, row_hash: _h, ...cols }) => cols)).toEqual(odd.map((r, i) => expectedRow(r, i + 1)));
      expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: odd.length });
    } finally {
      await disposeFixture(fx);
    }
  });
});
