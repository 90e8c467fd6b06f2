// Tamper evidence: the sink chains rows; verify finds an edited, deleted or inserted row, in the
// library and through the real `audit verify` command (exit 1 naming the row).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/sidecar.js';
import { auditFixture, disposeFixture, auditRecord, verifyChain, type AuditFixture } from '../helpers/audit.js';
import { hashRow, REQUEST_COLUMNS, type ChainRow } from '../../src/audit/chain.js';
import { recordAdminAction } from '../../src/audit/record-admin.js';

let fx: AuditFixture | undefined;
afterEach(async () => {
  await disposeFixture(fx);
  fx = undefined;
});

async function chainOf(n: number): Promise<AuditFixture> {
  fx = auditFixture({ batchSize: 7 });
  for (let i = 1; i <= n; i++) expect(fx.sink.write(auditRecord(i))).toBe(true);
  await fx.sink.close(); // writes everything queued
  return fx;
}

function cliVerify(dataDir: string) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'audit', 'verify'], {
    env: { ...process.env, SIDECAR_DATA_DIR: dataDir, SIDECAR_CONFIG: '' },
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('audit hash chain', () => {
  it('chains every row written in batches and verifies OK', async () => {
    const { db, dataDir } = await chainOf(50);
    const rows = db.prepare('SELECT id, prev_hash, row_hash FROM audit_log ORDER BY id').all() as ChainRow[];
    expect(rows.map((r) => r.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.prev_hash).toBe(rows[i - 1]!.row_hash);
    const r = await verifyChain(db, 'request');
    expect(r).toMatchObject({ ok: true, count: 50, headId: 50, headHash: rows[49]!.row_hash });
    const cli = cliVerify(dataDir);
    expect(cli.code, cli.out).toBe(0);
    expect(cli.out).toMatch(/request log: OK, 50 row/);
  });

  it('verifies rows whose text SQLite stores differently from JS (lone surrogate, NUL, emoji, CRLF)', async () => {
    fx = auditFixture();
    const odd = ['bad\ud800user', 'nul\u0000user', 'emoji 😀 ü', 'two\r\nlines', '=1+1'];
    odd.forEach((user, i) => fx!.sink.write(auditRecord(i + 1, { user, path: `/rest/${user}` })));
    await recordAdminAction(fx.store, fx.clock, { actor: 'adm\udc00in', action: 'config.update', after: { note: 'x\ud800' } });
    await fx.sink.close();
    expect(await verifyChain(fx.db, 'request')).toMatchObject({ ok: true, count: odd.length });
    expect(await verifyChain(fx.db, 'admin')).toMatchObject({ ok: true, count: 1 });
  });

  it('detects an edited row', async () => {
    const { db, dataDir } = await chainOf(20);
    db.prepare("UPDATE audit_log SET user = 'someone-else' WHERE id = 9").run();
    expect(await verifyChain(db, 'request')).toMatchObject({ ok: false, break: { id: 9, problem: 'edited' } });
    const cli = cliVerify(dataDir);
    expect(cli.code).toBe(1);
    expect(cli.out).toMatch(/BROKEN at row 9 \(edited\)/);
  });

  it('detects a deleted row', async () => {
    const { db, dataDir } = await chainOf(20);
    db.prepare('DELETE FROM audit_log WHERE id = 12').run();
    expect(await verifyChain(db, 'request')).toMatchObject({ ok: false, break: { id: 13, problem: 'missing_before' } });
    expect(cliVerify(dataDir).code).toBe(1);
  });

  it('detects a deletion that renumbers and re-links the next row', async () => {
    const { db } = await chainOf(20);
    // Deleting row 12 and re-linking row 13 to row 11 (without recomputing 13's hash) is an edit of 13.
    const r11 = db.prepare('SELECT row_hash FROM audit_log WHERE id = 11').get() as { row_hash: string };
    db.prepare('DELETE FROM audit_log WHERE id = 12').run();
    db.prepare('UPDATE audit_log SET id = 12, prev_hash = ? WHERE id = 13').run(r11.row_hash);
    expect(await verifyChain(db, 'request')).toMatchObject({ ok: false, break: { id: 12, problem: 'edited' } });
  });

  it('detects an inserted row even when the forger computes its hash', async () => {
    const { db, dataDir } = await chainOf(20);
    // Make room after row 10 and insert a well-formed row linked to row 10.
    for (let id = 20; id >= 11; id--) db.prepare('UPDATE audit_log SET id = id + 1 WHERE id = ?').run(id);
    const prev = (db.prepare('SELECT row_hash FROM audit_log WHERE id = 10').get() as { row_hash: string }).row_hash;
    const forged: ChainRow = { ...(db.prepare('SELECT * FROM audit_log WHERE id = 10').get() as ChainRow), id: 11, user: 'forged' };
    forged.prev_hash = prev;
    forged.row_hash = hashRow(prev, forged, REQUEST_COLUMNS);
    const cols = Object.keys(forged);
    db.prepare(`INSERT INTO audit_log (${cols.join(',')}) VALUES (${cols.map((c) => `@${c}`).join(',')})`).run(forged);
    const r = await verifyChain(db, 'request');
    expect(r.ok).toBe(false);
    expect(r.break!.id).toBe(12); // the row after the forged one no longer links
    expect(cliVerify(dataDir).code).toBe(1);
  });

  it('detects an appended row with a made-up hash', async () => {
    const { db } = await chainOf(5);
    const last = db.prepare('SELECT * FROM audit_log WHERE id = 5').get() as ChainRow;
    db.prepare('INSERT INTO audit_log (id, time, request_id, decision, reason, status, method, path, client_ip, user, credential_kind, token_id, client_id, issuer, latency_ms, upstream_status, route, stage, rule, prev_hash, row_hash) SELECT 6, time, request_id, decision, reason, status, method, path, client_ip, user, credential_kind, token_id, client_id, issuer, latency_ms, upstream_status, route, stage, rule, ?, ? FROM audit_log WHERE id = 5').run(last.row_hash, 'f'.repeat(64));
    expect(await verifyChain(db, 'request')).toMatchObject({ ok: false, break: { id: 6, problem: 'edited' } });
  });

  it('chains admin actions with secrets masked, and detects an edit there too', async () => {
    fx = auditFixture();
    const { db, clock, dataDir } = fx;
    await recordAdminAction(fx.store, clock, { actor: 'admin', action: 'config.update', target: 'introspection', before: { clientSecret: 'old-s3cret' }, after: { clientSecret: 'new-s3cret', timeoutMs: 3000 } });
    clock.advance(1000);
    await recordAdminAction(fx.store, clock, { actor: 'admin', action: 'token.revoke', target: 'tok_1' });
    const rows = db.prepare('SELECT * FROM admin_audit ORDER BY id').all() as ChainRow[];
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toMatch(/s3cret/);
    expect(JSON.parse(rows[0]!.after_json as string)).toEqual({ clientSecret: '***', timeoutMs: 3000 });
    expect(await verifyChain(db, 'admin')).toMatchObject({ ok: true, count: 2 });
    expect(cliVerify(dataDir).code).toBe(0);
    db.prepare("UPDATE admin_audit SET actor = 'nobody' WHERE id = 1").run();
    expect(await verifyChain(db, 'admin')).toMatchObject({ ok: false, break: { id: 1, problem: 'edited' } });
    const cli = cliVerify(dataDir);
    expect(cli.code).toBe(1);
    expect(cli.out).toMatch(/admin log: BROKEN at row 1/);
  });
});
