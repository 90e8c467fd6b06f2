// The audit writer's cost per row, in process: the batch transaction of audit-writer.ts (100 rows
// each) on a real SQLite file (made by openDb: its page size) with the real schema and the worker's pragmas, rows like the jwt
// scenario's (1,000 users, 5,000 paths, varied addresses). CPU µs per row of the last three quarters.
//   node --import tsx test/bench/writer-micro.ts [rows] [indexBatchRows]
// indexBatchRows: audit.indexBatchRows (default 10,000); a huge value leaves the deferred indexes
// unfilled, which shows what filling them costs.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb } from '../../src/store/sqlite/db.js';
import { requestChainWriter, writerPragmas } from '../../src/store/sqlite/audit-writer.js';
import { encodeRow } from '../../src/audit/encode.js';
import type { AuditRecord } from '../../src/pipeline/audit/sink.js';

const N = Number(process.argv[2] ?? 200_000);
const INDEX_BATCH_ROWS = Number(process.argv[3] ?? 10_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'writer-micro-'));
const { db } = openDb(dir, { migrate: true });
writerPragmas(db, 0);
const write = requestChainWriter(db);
const record = (i: number): AuditRecord => ({
  time: Date.now(), requestId: crypto.randomUUID(), decision: 'allow', reason: 'allowed', status: 200, method: 'GET',
  path: `/rest/api/2/issue/PROJ-${i % 5000}`, clientIp: `10.0.${(i >> 8) & 255}.${i & 255}`, user: `user${i % 1000}`, credentialKind: 'jwt',
  tokenId: null, clientId: 'bench-client', issuer: 'bench', latencyMs: 3, upstreamStatus: 200, route: 'guarded', stage: null, rule: null,
  wouldDeny: null, userAgent: 'wrk', facts: JSON.stringify({ v: 1, g: ['jira-users'] }),
});
const rows = Array.from({ length: N }, (_, i) => encodeRow(record(i)));
const BATCH = 100;
const run = (from: number, to: number) => {
  for (let i = from; i < to; i += BATCH) write(rows.slice(i, Math.min(to, i + BATCH)), INDEX_BATCH_ROWS);
};
run(0, N / 4); // warm: JIT, the page cache, the first index fills
const t = process.cpuUsage();
run(N / 4, N);
const c = process.cpuUsage(t);
console.log(JSON.stringify({ rows: (3 * N) / 4, usPerRow: +((c.user + c.system) / ((3 * N) / 4)).toFixed(2) }));
db.close();
fs.rmSync(dir, { recursive: true, force: true });
