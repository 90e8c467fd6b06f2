// Export of 1,000,000 rows through the real CLI (`audit export`), with the child's peak RSS
// (VmHWM from /proc, Linux) compared with the same command exporting nothing: memory must not grow
// with the number of rows. Rows are inserted directly with one prepared statement in one
// transaction (their hashes do not matter here).
import { spawn } from 'node:child_process';
import { closeSync, createReadStream, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, tempDir } from '../helpers/sidecar.js';
import { openDb } from '../../src/store/sqlite/db.js';
import { GENESIS } from '../../src/audit/chain.js';

const ROWS = 1_000_000;
const T0 = 1_767_225_600_000;
const dataDir = tempDir('audit-export-');

beforeAll(() => {
  const { db } = openDb(dataDir);
  // Only the time index serves an unfiltered export; the others would just slow the bulk insert.
  for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' AND name != 'audit_log_time'").all() as Array<{ name: string }>) {
    db.exec(`DROP INDEX ${name}`);
  }
  const ins = db.prepare(
    `INSERT INTO audit_log (id, time, request_id, decision, reason, status, method, path, client_ip, user, credential_kind, token_id, client_id, issuer, latency_ms, upstream_status, route, stage, rule, prev_hash, row_hash)
     VALUES (?, ?, ?, ?, ?, ?, 'GET', ?, ?, ?, 'jwt', NULL, NULL, 'entra', 4, ?, 'guarded', NULL, NULL, ?, ?)`,
  );
  const started = Date.now();
  db.transaction(() => {
    for (let i = 1; i <= ROWS; i++) {
      const deny = i % 10 === 0;
      ins.run(i, T0 + i * 10, `r-${i}`, deny ? 'deny' : 'allow', deny ? 'read_only' : 'allowed', deny ? 403 : 200, `/rest/api/2/issue/DEMO-${i % 5000}`, `10.1.${i % 256}.${i % 200}`, i % 97 === 0 ? '=HYPERLINK("x")' : `user${i % 1000}`, deny ? null : 200, GENESIS, GENESIS);
    }
  })();
  console.log(`inserted ${ROWS} rows in ${Date.now() - started} ms`);
  db.close();
}, 600_000);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs `audit export` and samples the child's peak RSS (VmHWM) until it exits. */
async function exportWithPeak(args: string[]): Promise<{ code: number | null; peakKb: number; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js'), 'audit', 'export', ...args], {
    env: { ...process.env, SIDECAR_DATA_DIR: dataDir, SIDECAR_CONFIG: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  let peakKb = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      /* exited between samples */
    }
  };
  const timer = setInterval(sample, 20);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearInterval(timer);
  return { code, peakKb, stderr };
}

async function countLines(file: string, sep: string): Promise<number> {
  let n = 0;
  let carry = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const parts = (carry + chunk).split(sep);
    carry = parts.pop()!;
    n += parts.length;
  }
  return n;
}

describe('audit export of 1,000,000 rows', () => {
  it.skipIf(process.platform !== 'linux')('streams with bounded memory (peak RSS printed)', { timeout: 600_000 }, async () => {
    const out = path.join(dataDir, 'all.csv');
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + (ROWS + 1) * 10).toISOString();
    const base = await exportWithPeak(['--from', '2030-01-01T00:00:00Z', '--format', 'csv', '--out', path.join(dataDir, 'none.csv')]);
    expect(base.code, base.stderr).toBe(0);
    const full = await exportWithPeak(['--from', from, '--to', to, '--format', 'csv', '--out', out, '--progress']);
    expect(full.code, full.stderr).toBe(0);
    const deltaMb = (full.peakKb - base.peakKb) / 1024;
    console.log(
      `export ${ROWS} rows: ${(statSync(out).size / 1e6).toFixed(0)} MB CSV; peak RSS ${(full.peakKb / 1024).toFixed(0)} MB vs ${(base.peakKb / 1024).toFixed(0)} MB for an empty export (+${deltaMb.toFixed(0)} MB)`,
    );
    expect(full.stderr).toContain(`exported ${ROWS} row(s)`);
    expect(full.stderr).toMatch(/export \[/); // the progress bar (forced with --progress)
    expect(deltaMb).toBeLessThan(200);
    expect(await countLines(out, '\r\n')).toBe(ROWS + 1); // header + one line per row
    const buf = Buffer.alloc(64 * 1024);
    const fd = openSync(out, 'r');
    readSync(fd, buf, 0, buf.length, 0);
    closeSync(fd);
    const row97 = buf.toString('utf8').split('\r\n')[97]!;
    expect(row97.split(',')[9]).toBe(`"'=HYPERLINK(""x"")"`); // the user cell, neutralised and quoted
  });
});
