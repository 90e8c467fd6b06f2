// AuditStore conformance: one suite, run unchanged on SQLite and PostgreSQL (test/store/sqlite.test.ts,
// test/store/postgres.test.ts). Written against src/store/audit-store.ts only: rows go in as
// audit/encode.ts encodes them and every hash is recomputed here with audit/chain.ts.
//
// Cases with several replicas need Backend.reopen: SQLite is one replica by design (its tables
// have no replica column), so they skip there. Cases that break a chain need Backend.tamperAudit,
// the backend's own raw SQL, so nothing dialect-specific appears in the assertions.
import { describe, expect, it } from 'vitest';
import { ADMIN_COLUMNS, GENESIS, hashCanonical, hashRow, REQUEST_COLUMNS, type ChainRow } from '../../../src/audit/chain.js';
import { encodeRow } from '../../../src/audit/encode.js';
import type { AdminAuditRow, AuditFilters, AuditPosition, AuditRow, AuditStore, ChainAnchor, ChainId, NewAdminRow, RetentionSettings } from '../../../src/store/audit-store.js';
import type { Stores } from '../../../src/store/stores.js';
import { T0, useStores, withFreshStores, type AuditTamper, type Backend, type Fixture } from './harness.js';

/** The record the sink hands over, as encodeRow takes it. */
type Rec = Parameters<typeof encodeRow>[0];

const DAY = 86_400_000;

const rec = (over: Partial<Rec> = {}): Rec => ({
  time: T0,
  requestId: 'req-1',
  decision: 'allow',
  reason: 'allowed',
  status: 200,
  method: 'GET',
  path: '/rest/api/2/issue/A-1',
  clientIp: '10.0.0.1',
  user: 'alice',
  credentialKind: 'jwt',
  tokenId: null,
  clientId: 'app-1',
  issuer: 'https://login.example/tenant/v2.0',
  latencyMs: 12,
  upstreamStatus: 200,
  route: 'guarded',
  stage: null,
  rule: null,
  wouldDeny: null,
  userAgent: null,
  facts: null,
  ...over,
});

/** AuditRow -> the stored row as audit/chain.ts hashes it (snake_case columns). */
const chainRowOf = (r: AuditRow): ChainRow => ({
  id: r.id, time: r.time, request_id: r.requestId, decision: r.decision, reason: r.reason, status: r.status, method: r.method, path: r.path,
  client_ip: r.clientIp, user: r.user, credential_kind: r.credentialKind, token_id: r.tokenId, client_id: r.clientId, issuer: r.issuer,
  latency_ms: r.latencyMs, upstream_status: r.upstreamStatus, route: r.route, stage: r.stage, rule: r.rule,
  would_deny: r.wouldDeny, user_agent: r.userAgent, facts: r.facts,
});
const adminChainRowOf = (r: AdminAuditRow): ChainRow => ({
  id: r.id, time: r.time, actor: r.actor, action: r.action, target: r.target, before_json: r.beforeJson, after_json: r.afterJson,
});

/** Rows of one chain in id order: linked from `first`, ids consecutive, each hash as audit/chain.ts computes it. */
function expectLinked<R extends { id: number; prevHash: string; rowHash: string }>(rows: R[], toChain: (r: R) => ChainRow, columns: readonly string[], first = { id: 0, hash: GENESIS }) {
  let prev = first;
  for (const r of rows) {
    expect(r.id).toBe(prev.id + 1);
    expect(r.prevHash).toBe(prev.hash);
    expect(r.rowHash).toBe(hashRow(prev.hash, toChain(r), columns));
    prev = { id: r.id, hash: r.rowHash };
  }
}

/** The listing order, (time, replica, id) ascending; replica names here are ASCII, so < is byte order. */
const byPosition = (a: AuditPosition, b: AuditPosition) => a.time - b.time || (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0) || a.id - b.id;
const posOf = (r: AuditPosition): AuditPosition => ({ time: r.time, replica: r.replica, id: r.id });
const keyOf = (r: { replica: string; id: number }) => `${r.replica}#${r.id}`;

/** `indexBatchRows`: SQLite fills a deferred index (audit-index.ts) once that many rows lack entries; PostgreSQL ignores it. */
async function write(store: AuditStore, recs: Rec[], indexBatchRows = 1000): Promise<void> {
  const w = store.requestWriter('inline');
  try {
    expect(await w.write(recs.map(encodeRow), indexBatchRows)).toBeUndefined();
  } finally {
    await w.close();
  }
}

/** Every matching row, oldest first, in chunks of `limit` (as an export reads them). */
async function chunked(store: AuditStore, filters: AuditFilters = {}, limit = 1000): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  let after: AuditPosition | undefined;
  for (;;) {
    const rows = await store.chunk(filters, { limit, after });
    out.push(...rows);
    if (rows.length < limit) return out;
    after = posOf(rows[rows.length - 1]!);
  }
}

/** Every matching row, newest first, in pages of `limit`. */
async function paged(store: AuditStore, filters: AuditFilters = {}, limit = 1000): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  let after: AuditPosition | undefined;
  for (;;) {
    const rows = await store.page(filters, { limit, after });
    out.push(...rows);
    if (rows.length < limit) return out;
    after = posOf(rows[rows.length - 1]!);
  }
}

/** Every chain of `from` into `to` as `store copy` moves it: the anchor, then the rows as read, `batchRows` at a time. */
async function copyChains(from: AuditStore, to: AuditStore, batchRows = 2): Promise<void> {
  for (const chain of await from.chains()) {
    const anchor = await from.anchorOf(chain);
    if (anchor) await to.restoreAnchor(chain, anchor);
    for (let after = 0; ; ) {
      const batch = await from.readChain(chain, after, batchRows);
      if (batch.rows.length) await to.restoreChain(chain, batch);
      if (batch.rows.length < batchRows) break;
      after = batch.rows[batch.rows.length - 1]!.id;
    }
  }
}

const admin = (over: Partial<NewAdminRow> = {}): NewAdminRow => ({
  time: T0,
  actor: 'admin',
  action: 'config.update',
  target: 'routes',
  beforeJson: '{"a":1}',
  afterJson: '{"a":2,"secret":"***"}',
  ...over,
});

export function auditStoreConformance(backend: Backend): void {
  describe(`${backend.name}: AuditStore`, () => {
    let f: Fixture;
    useStores(backend, (x) => (f = x));
    const audit = () => f.stores.audit;
    const me = () => audit().replica;
    const chainOf = (kind: ChainId['kind'], replica = me()): ChainId => ({ kind, replica });
    /** Another handle on the same database (another replica, or a second process of the same name). */
    const replica = (name?: string): Promise<Stores> => backend.reopen!(f.stores, name);
    // SQLite is one replica by design: no second replica to open (see the file header).
    const oneReplica = !backend.reopen;
    const noTamper = !backend.tamperAudit;

    describe('writing', () => {
      it('appends batches with consecutive ids, each row linked to the one before and hashed as audit/chain.ts says', async () => {
        const first = [
          rec({ requestId: 'r1', time: T0 + 0.9, latencyMs: 12.6 }),
          rec({ requestId: 'r2', time: T0 + 5, user: null, clientId: null, issuer: null, upstreamStatus: null, route: null, credentialKind: null }),
          rec({ requestId: 'r3', time: T0 + 5, decision: 'deny', reason: 'token_revoked', status: 401, stage: 'verify', rule: 'rule-7', path: '/rest/ä/ü?' }),
        ];
        await write(audit(), first);
        await write(audit(), [rec({ requestId: 'r4', time: T0 + 3 }), rec({ requestId: 'r5', time: T0 + 9 })]);
        const rows = (await chunked(audit())).sort((a, b) => a.id - b.id);
        expect(rows.map((r) => [r.id, r.requestId])).toEqual([[1, 'r1'], [2, 'r2'], [3, 'r3'], [4, 'r4'], [5, 'r5']]);
        expect(rows.every((r) => r.replica === me())).toBe(true);
        // Stored as encodeRow has them: integer time and latency, nulls kept.
        expect(rows[0]).toMatchObject({ time: T0, latencyMs: 13, user: 'alice', clientId: 'app-1', credentialKind: 'jwt', route: 'guarded', stage: null });
        expect(rows[1]).toMatchObject({ user: null, clientId: null, issuer: null, upstreamStatus: null, route: null, credentialKind: null });
        expect(rows[2]).toMatchObject({ decision: 'deny', reason: 'token_revoked', status: 401, stage: 'verify', rule: 'rule-7', path: '/rest/ä/ü?', method: 'GET' });
        expectLinked(rows, chainRowOf, REQUEST_COLUMNS);
        const report = await audit().verify(chainOf('request'));
        expect(report).toEqual({ chain: chainOf('request'), ok: true, count: 5, anchorId: 0, headId: 5, headHash: rows[4]!.rowHash });
      });

      it('stores the 0.7 columns (wouldDeny, userAgent, facts) and hashes them only when set, so rows without them keep the 0.6 hash', async () => {
        const facts = JSON.stringify({ v: 1, g: ['contractors'], cr: 'jwt' });
        await write(audit(), [
          rec({ requestId: 'old' }),
          rec({ requestId: 'new', time: T0 + 1, wouldDeny: 'read_only', userAgent: 'curl/8.5.0', facts }),
          rec({ requestId: 'ua-only', time: T0 + 2, userAgent: 'jira.js/4' }),
        ]);
        const rows = (await chunked(audit())).sort((a, b) => a.id - b.id);
        expect(rows.map((r) => [r.wouldDeny, r.userAgent, r.facts])).toEqual([[null, null, null], ['read_only', 'curl/8.5.0', facts], [null, 'jira.js/4', null]]);
        expectLinked(rows, chainRowOf, REQUEST_COLUMNS);
        // A 0.6 row's hash: its 19 columns, nothing more.
        const old = chainRowOf(rows[0]!);
        const v06 = JSON.stringify(['id', 'time', 'request_id', 'decision', 'reason', 'status', 'method', 'path', 'client_ip', 'user', 'credential_kind', 'token_id', 'client_id', 'issuer', 'latency_ms', 'upstream_status', 'route', 'stage', 'rule'].map((c) => old[c]));
        expect(rows[0]!.rowHash).toBe(hashCanonical(GENESIS, v06));
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 3 });
      });

      it('answers an empty batch without writing anything', async () => {
        const w = audit().requestWriter('inline');
        expect(await w.write([], 1000)).toBeUndefined();
        await w.close();
        expect(await audit().count({})).toBe(0);
      });

      it('never throws: a batch with a row that is not an encoded row fails whole, and the chain goes on', async () => {
        const w = audit().requestWriter('inline');
        const err = await w.write([encodeRow(rec()), 'not an encoded row'], 1000);
        expect(err).toMatchObject({ kind: 'write_failed', code: expect.any(String), message: expect.any(String) });
        expect(await audit().count({})).toBe(0);
        expect(await w.write([encodeRow(rec())], 1000)).toBeUndefined();
        await w.close();
        expect((await audit().page({}, { limit: 10 })).map((r) => r.id)).toEqual([1]);
      });

      it('stores strings a client may send (U+0000, a lone surrogate, astral characters) so that the row verifies', async () => {
        await write(audit(), [rec({ user: 'a\u0000b', path: '/x/\uD800/😀', clientId: 'c\\u0000' })]);
        const [row] = await audit().page({}, { limit: 1 });
        expect(row?.path).toBe('/x/\uFFFD/😀');
        expect(row?.clientId).toBe('c\\u0000');
        expect((await audit().verify(chainOf('request'))).ok).toBe(true);
      });

      it('two writers of one store writing at once never fork the chain', async () => {
        const w1 = audit().requestWriter('inline');
        const w2 = audit().requestWriter('inline');
        const batch = (i: number) => Array.from({ length: 5 }, (_, j) => encodeRow(rec({ requestId: `b${i}-${j}`, time: T0 + i })));
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? w1 : w2).write(batch(i), 1000)));
        await Promise.all([w1.close(), w2.close()]);
        expect(results.every((r) => r === undefined)).toBe(true);
        const rows = (await chunked(audit())).sort((a, b) => a.id - b.id);
        expect(rows).toHaveLength(50);
        expectLinked(rows, chainRowOf, REQUEST_COLUMNS);
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 50, headId: 50 });
      });

      it.skipIf(oneReplica)('another replica on the same database appends to a chain of its own, and both verify', async () => {
        const b = await replica('replica-b');
        expect(b.audit.replica).toBe('replica-b');
        await write(audit(), [rec({ requestId: 'a1' }), rec({ requestId: 'a2', time: T0 + 2 })]);
        await write(b.audit, [rec({ requestId: 'b1', time: T0 + 1 })]);
        await write(audit(), [rec({ requestId: 'a3', time: T0 + 3 })]);
        await write(b.audit, [rec({ requestId: 'b2', time: T0 + 4 }), rec({ requestId: 'b3', time: T0 + 5 })]);
        await b.audit.appendAdmin(admin({ actor: 'b-admin' }));
        // One shared log: either handle reads every replica's rows.
        for (const s of [audit(), b.audit]) {
          const rows = await chunked(s);
          expect(rows.map((r) => [r.replica, r.id, r.requestId])).toEqual([
            [me(), 1, 'a1'], ['replica-b', 1, 'b1'], [me(), 2, 'a2'], [me(), 3, 'a3'], ['replica-b', 2, 'b2'], ['replica-b', 3, 'b3'],
          ]);
          expectLinked(rows.filter((r) => r.replica === me()), chainRowOf, REQUEST_COLUMNS);
          expectLinked(rows.filter((r) => r.replica === 'replica-b'), chainRowOf, REQUEST_COLUMNS);
        }
        const chains = await audit().chains();
        expect(chains).toEqual(expect.arrayContaining([chainOf('request'), chainOf('request', 'replica-b'), chainOf('admin', 'replica-b')]));
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 3, headId: 3 });
        expect(await audit().verify(chainOf('request', 'replica-b'))).toMatchObject({ ok: true, count: 3, headId: 3 });
        expect(await b.audit.verify(chainOf('admin', 'replica-b'))).toMatchObject({ ok: true, count: 1 });
      });

      it.skipIf(oneReplica)('two processes started with the same replica name, writing at once, never fork its chain', async () => {
        const twin = await replica();
        expect(twin.audit.replica).toBe(me());
        const writers = [audit().requestWriter('inline'), twin.audit.requestWriter('inline')];
        const batch = (i: number) => Array.from({ length: 10 }, (_, j) => encodeRow(rec({ requestId: `w${i % 2}-${i}-${j}`, time: T0 + i })));
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => writers[i % 2]!.write(batch(i), 1000)));
        await Promise.all(writers.map((w) => w.close()));
        expect(results).toEqual(Array.from({ length: 20 }, () => undefined));
        const admins = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? twin : f.stores).audit.appendAdmin(admin({ target: `t${i}` }))));
        expect([...admins].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
        const rows = (await chunked(audit())).sort((a, b) => a.id - b.id);
        expect(rows).toHaveLength(200);
        expectLinked(rows, chainRowOf, REQUEST_COLUMNS);
        expect(await twin.audit.verify(chainOf('request'))).toMatchObject({ ok: true, count: 200 });
        expect(await twin.audit.verify(chainOf('admin'))).toMatchObject({ ok: true, count: 6 });
      });
    });

    describe('reading', () => {
      // Paths chosen for the prefix filter: % and _ are plain characters, case and byte order count.
      const DATA: Rec[] = [
        rec({ requestId: 'd1', time: T0 + 0, path: '/rest/api/2/issue/A-1' }),
        rec({ requestId: 'd2', time: T0 + 1000, user: 'bob', clientId: null, tokenId: 'tok_1', credentialKind: 'api-token', clientIp: '10.0.0.2', decision: 'deny', reason: 'token_revoked', status: 401, path: '/rest/api/2/search' }),
        rec({ requestId: 'd3', time: T0 + 2000, user: null, clientId: null, clientIp: '10.0.0.3', decision: 'error', reason: 'upstream_error', status: 502, path: '/rest/a%b/x' }),
        rec({ requestId: 'd4', time: T0 + 3000, status: 404, path: '/rest/aXb/y' }),
        rec({ requestId: 'd5', time: T0 + 3000, decision: 'passthrough', reason: 'bypass', path: '/rest/a_c' }),
        rec({ requestId: 'd6', time: T0 + 4000, user: 'bob', tokenId: 'tok_1', clientIp: '10.0.0.2', decision: 'deny', reason: 'rate_limited', status: 429, path: '/rest/abc' }),
        rec({ requestId: 'd7', time: T0 + 5000, clientId: 'app-2', status: 403, decision: 'deny', reason: 'forbidden', path: '/REST/abc' }),
        rec({ requestId: 'd8', time: T0 + 6000, path: '/rest0' }),
        rec({ requestId: 'd9', time: T0 + 7000, status: 201, path: '/rest/😀/x' }),
        rec({ requestId: 'd10', time: T0 + 8000, user: 'alice', path: '/rest/api/2/issue/A-10' }),
      ];

      it('every filter selects exactly its rows, in pages, chunks and counts alike', async () => {
        await write(audit(), DATA);
        const cases: Array<[AuditFilters, (r: Rec) => boolean]> = [
          [{}, () => true],
          [{ from: T0 + 3000 }, (r) => r.time >= T0 + 3000],
          [{ to: T0 + 3000 }, (r) => r.time < T0 + 3000],
          [{ from: T0 + 1000, to: T0 + 4000 }, (r) => r.time >= T0 + 1000 && r.time < T0 + 4000],
          [{ user: 'alice' }, (r) => r.user === 'alice'],
          [{ user: 'ALICE' }, () => false],
          [{ client: 'app-1' }, (r) => r.clientId === 'app-1'],
          [{ token: 'tok_1' }, (r) => r.tokenId === 'tok_1'],
          [{ ip: '10.0.0.2' }, (r) => r.clientIp === '10.0.0.2'],
          [{ decision: 'deny' }, (r) => r.decision === 'deny'],
          [{ decision: 'allow' }, (r) => r.decision === 'allow'],
          [{ decision: 'passthrough' }, (r) => r.decision === 'passthrough'],
          [{ status: 200 }, (r) => r.status === 200],
          [{ status: 404 }, (r) => r.status === 404],
          [{ statusClass: 4 }, (r) => r.status >= 400 && r.status < 500],
          [{ statusClass: 2 }, (r) => r.status >= 200 && r.status < 300],
          [{ statusClass: 5 }, (r) => r.status >= 500],
          [{ path: '/rest/' }, (r) => r.path.startsWith('/rest/')],
          [{ path: '/rest' }, (r) => r.path.startsWith('/rest')],
          [{ path: '/rest/a%' }, (r) => r.path.startsWith('/rest/a%')],
          [{ path: '/rest/a_' }, (r) => r.path.startsWith('/rest/a_')],
          [{ path: '/rest/api/2/issue/A-1' }, (r) => r.path.startsWith('/rest/api/2/issue/A-1')],
          [{ path: '/rest/😀' }, (r) => r.path.startsWith('/rest/😀')],
          [{ path: '/REST/' }, (r) => r.path.startsWith('/REST/')],
          [{ replica: me() }, () => true],
          [{ replica: `${me()}-other` }, () => false],
          [{ user: 'bob', statusClass: 4, from: T0 + 2000 }, (r) => r.user === 'bob' && r.status >= 400 && r.status < 500 && r.time >= T0 + 2000],
          [{ decision: 'deny', path: '/rest/' }, (r) => r.decision === 'deny' && r.path.startsWith('/rest/')],
        ];
        for (const [filters, match] of cases) {
          const want = DATA.map((r, i) => ({ r, id: i + 1 })).filter(({ r }) => match(r));
          const label = JSON.stringify(filters);
          const oldestFirst = want.map(({ id }) => id);
          expect((await chunked(audit(), filters)).map((r) => r.id), label).toEqual(oldestFirst);
          expect((await chunked(audit(), filters, 2)).map((r) => r.id), label).toEqual(oldestFirst);
          // Newest first: d4 and d5 share a time, so id breaks the tie (5 before 4).
          expect((await paged(audit(), filters)).map((r) => r.id), label).toEqual([...oldestFirst].reverse());
          expect((await paged(audit(), filters, 2)).map((r) => r.id), label).toEqual([...oldestFirst].reverse());
          expect(await audit().count(filters), label).toBe(want.length);
        }
      });

      // credential_kind and would_deny have no index on either backend: these filters only ever narrow
      // the rows another filter's index (or the time index) walks, so order and completeness must
      // come from that walk, whichever index it is (on SQLite also a deferred index table's two arms).
      const KINDS = ['jwt', 'api-token', 'jira-pat', 'opaque-bearer', 'basic', 'oauth1', 'session', 'anonymous', null] as const;
      const CODES = [null, 'read_only', null, 'rate_limited', null, null, 'credential_kind_denied'] as const;
      /** 63 rows: every kind with every code (9 x 7, coprime), three rows per time, users, tokens, clients, IPs, decisions and paths mixed. */
      const ROLLOUT: Rec[] = Array.from({ length: 63 }, (_, i) => {
        const denied = i % 5 === 0;
        const wouldDeny = CODES[i % CODES.length]!;
        return rec({
          requestId: `k${i}`,
          time: T0 + Math.floor(i / 3) * 1000,
          credentialKind: KINDS[i % KINDS.length]!,
          wouldDeny,
          userAgent: wouldDeny ? `client/${i}` : null,
          facts: wouldDeny ? `{"groups":["g${i % 2}"]}` : null,
          user: i % 4 === 1 ? null : i % 4 === 0 ? 'bob' : 'alice',
          tokenId: i % 6 === 0 ? 'tok_1' : null,
          clientId: i % 2 ? 'app-1' : 'app-2',
          clientIp: `10.0.0.${i % 3}`,
          decision: denied ? 'deny' : 'allow',
          reason: denied ? 'forbidden' : 'allowed',
          status: denied ? 403 : i % 11 === 0 ? 201 : 200,
          path: i % 2 ? `/rest/api/2/issue/A-${i}` : '/rest/agile/1.0/board',
        });
      });

      it('credentialKind and wouldDeny select exactly their rows, alone and with every other filter, in pages, chunks and counts alike', async () => {
        // Batches of 7 with indexBatchRows 5: each batch fills one deferred index (SQLite), so the
        // index tables end at different rows and queries read rows from both arms.
        for (let i = 0; i < ROLLOUT.length; i += 7) await write(audit(), ROLLOUT.slice(i, i + 7), 5);
        const kind = (k: string) => (r: Rec) => r.credentialKind === k;
        const any = (r: Rec) => r.wouldDeny !== null;
        const cases: Array<[AuditFilters, (r: Rec) => boolean]> = [
          ...KINDS.filter((k) => k !== null).map((k): [AuditFilters, (r: Rec) => boolean] => [{ credentialKind: k }, kind(k)]),
          [{ credentialKind: 'JWT' }, () => false],
          [{ credentialKind: 'bearer' }, () => false],
          [{ wouldDeny: 'any' }, any],
          [{ wouldDeny: 'read_only' }, (r) => r.wouldDeny === 'read_only'],
          [{ wouldDeny: 'credential_kind_denied' }, (r) => r.wouldDeny === 'credential_kind_denied'],
          [{ wouldDeny: 'token_revoked' }, () => false],
          [{ credentialKind: 'basic', wouldDeny: 'any' }, (r) => kind('basic')(r) && any(r)],
          [{ credentialKind: 'jwt', wouldDeny: 'rate_limited' }, (r) => kind('jwt')(r) && r.wouldDeny === 'rate_limited'],
          [{ credentialKind: 'jwt', from: T0 + 5000, to: T0 + 15000 }, (r) => kind('jwt')(r) && r.time >= T0 + 5000 && r.time < T0 + 15000],
          [{ wouldDeny: 'any', from: T0 + 7000 }, (r) => any(r) && r.time >= T0 + 7000],
          [{ wouldDeny: 'any', to: T0 + 7000 }, (r) => any(r) && r.time < T0 + 7000],
          // Each deferred index (user, token, client, ip, path) and each partial index (decision, status).
          [{ credentialKind: 'api-token', user: 'alice' }, (r) => kind('api-token')(r) && r.user === 'alice'],
          [{ wouldDeny: 'any', user: 'bob' }, (r) => any(r) && r.user === 'bob'],
          [{ wouldDeny: 'any', token: 'tok_1' }, (r) => any(r) && r.tokenId === 'tok_1'],
          [{ credentialKind: 'session', client: 'app-1' }, (r) => kind('session')(r) && r.clientId === 'app-1'],
          [{ wouldDeny: 'read_only', ip: '10.0.0.1' }, (r) => r.wouldDeny === 'read_only' && r.clientIp === '10.0.0.1'],
          [{ credentialKind: 'oauth1', path: '/rest/api/2/' }, (r) => kind('oauth1')(r) && r.path.startsWith('/rest/api/2/')],
          [{ wouldDeny: 'any', path: '/rest/' }, (r) => any(r) && r.path.startsWith('/rest/')],
          [{ wouldDeny: 'any', decision: 'deny' }, (r) => any(r) && r.decision === 'deny'],
          [{ wouldDeny: 'any', decision: 'allow' }, (r) => any(r) && r.decision === 'allow'],
          [{ credentialKind: 'jira-pat', status: 200 }, (r) => kind('jira-pat')(r) && r.status === 200],
          [{ credentialKind: 'anonymous', status: 403 }, (r) => kind('anonymous')(r) && r.status === 403],
          [{ wouldDeny: 'any', statusClass: 2 }, (r) => any(r) && r.status >= 200 && r.status < 300],
          [{ credentialKind: 'opaque-bearer', statusClass: 4 }, (r) => kind('opaque-bearer')(r) && r.status >= 400 && r.status < 500],
          [{ credentialKind: 'basic', replica: me() }, kind('basic')],
          [{ wouldDeny: 'any', replica: `${me()}-other` }, () => false],
          [
            { credentialKind: 'jwt', wouldDeny: 'any', user: 'alice', path: '/rest/', statusClass: 2, from: T0 + 1000 },
            (r) => kind('jwt')(r) && any(r) && r.user === 'alice' && r.path.startsWith('/rest/') && r.status < 300 && r.time >= T0 + 1000,
          ],
        ];
        for (const [filters, match] of cases) {
          const want = ROLLOUT.map((r, i) => ({ r, id: i + 1 })).filter(({ r }) => match(r));
          const label = JSON.stringify(filters);
          const oldestFirst = want.map(({ id }) => id);
          // Every case but the impossible ones matches some rows, so the data cannot make a case vacuous.
          if (!(filters.credentialKind === 'JWT' || filters.credentialKind === 'bearer' || filters.wouldDeny === 'token_revoked' || filters.replica)) {
            expect(oldestFirst.length, label).toBeGreaterThan(0);
          }
          expect((await chunked(audit(), filters)).map((r) => r.id), label).toEqual(oldestFirst);
          expect((await chunked(audit(), filters, 2)).map((r) => r.id), label).toEqual(oldestFirst);
          // Newest first: three rows per time, so id breaks the ties.
          expect((await paged(audit(), filters)).map((r) => r.id), label).toEqual([...oldestFirst].reverse());
          expect((await paged(audit(), filters, 2)).map((r) => r.id), label).toEqual([...oldestFirst].reverse());
          expect(await audit().count(filters), label).toBe(want.length);
        }
        // The rows come back whole, the new columns included.
        const [row] = await audit().page({ wouldDeny: 'credential_kind_denied', credentialKind: 'jira-pat' }, { limit: 1 });
        const i = ROLLOUT.findIndex((r) => r.wouldDeny === 'credential_kind_denied' && r.credentialKind === 'jira-pat');
        expect(row).toMatchObject({ id: i + 1, credentialKind: 'jira-pat', wouldDeny: 'credential_kind_denied', userAgent: `client/${i}` });
      });

      it('credentialKind and wouldDeny with a broad range (at least 10,000 matches) still select exactly their rows in time order', async () => {
        // On SQLite a path prefix or status class matching this many rows walks the time index
        // (audit-query.ts broadRanges): the two unindexed filters must not skip that choice.
        const n = 10_050;
        const big = Array.from({ length: n }, (_, i) =>
          rec({
            requestId: `b${i}`,
            time: T0 + Math.floor(i / 2),
            credentialKind: i % 97 === 0 ? 'basic' : 'jwt',
            wouldDeny: i % 89 === 0 ? 'read_only' : null,
            path: i % 3 ? `/rest/api/2/issue/A-${i}` : '/rest/agile/1.0/board',
          }),
        );
        // The last rows one per batch with indexBatchRows 1: each fills the deferred index furthest
        // behind (SQLite), so every index table, the path's included, ends up holding the log and the
        // path prefix's probe sees its 10,000 matches.
        await write(audit(), big.slice(0, n - 5), 100_000);
        for (const r of big.slice(n - 5)) await write(audit(), [r], 1);
        const cases: Array<[AuditFilters, (r: Rec) => boolean]> = [
          [{ path: '/rest/', credentialKind: 'basic' }, (r) => r.credentialKind === 'basic'],
          [{ path: '/rest/api/', wouldDeny: 'any' }, (r) => r.wouldDeny !== null && r.path.startsWith('/rest/api/')],
          [{ statusClass: 2, wouldDeny: 'read_only' }, (r) => r.wouldDeny === 'read_only'],
          [{ statusClass: 2, path: '/rest/', credentialKind: 'basic', wouldDeny: 'any' }, (r) => r.credentialKind === 'basic' && r.wouldDeny !== null],
          [{ credentialKind: 'basic', from: T0 + 1000, to: T0 + 4000 }, (r) => r.credentialKind === 'basic' && r.time >= T0 + 1000 && r.time < T0 + 4000],
        ];
        for (const [filters, match] of cases) {
          const oldestFirst = big.flatMap((r, i) => (match(r) ? [i + 1] : []));
          const label = JSON.stringify(filters);
          expect(oldestFirst.length, label).toBeGreaterThan(0);
          expect((await chunked(audit(), filters, 50)).map((r) => r.id), label).toEqual(oldestFirst);
          expect((await paged(audit(), filters, 50)).map((r) => r.id), label).toEqual([...oldestFirst].reverse());
          expect(await audit().count(filters), label).toBe(oldestFirst.length);
        }
      });

      it('pages newest first: the keyset continues exactly across rows of the same time', async () => {
        const times = [0, 5, 5, 5, 7, 7, 9, 5, 0, 9];
        await write(audit(), times.map((t, i) => rec({ requestId: `p${i}`, time: T0 + t })));
        const want = (await chunked(audit())).sort(byPosition).reverse();
        expect(want).toHaveLength(times.length);
        for (const limit of [1, 2, 3, 4, 100]) {
          expect((await paged(audit(), {}, limit)).map(keyOf), `limit ${limit}`).toEqual(want.map(keyOf));
        }
        // A page's last row is the next page's bound, strictly: never repeated, never skipped.
        const first = await audit().page({}, { limit: 3 });
        const second = await audit().page({}, { limit: 3, after: posOf(first[2]!) });
        expect([...first, ...second].map(keyOf)).toEqual(want.slice(0, 6).map(keyOf));
        expect(await audit().page({}, { limit: 3, after: posOf(want[want.length - 1]!) })).toEqual([]);
      });

      it('chunks oldest first with the same keyset, and count agrees', async () => {
        const times = [3, 1, 1, 2, 3, 3, 1];
        await write(audit(), times.map((t, i) => rec({ requestId: `c${i}`, time: T0 + t })));
        const all = await audit().chunk({}, { limit: 100 });
        expect(all.map((r) => r.id)).toEqual([2, 3, 7, 4, 1, 5, 6]);
        for (const limit of [1, 2, 3]) expect((await chunked(audit(), {}, limit)).map((r) => r.id)).toEqual([2, 3, 7, 4, 1, 5, 6]);
        expect(await audit().chunk({}, { limit: 100, after: posOf(all[6]!) })).toEqual([]);
        expect(await audit().count({ from: T0 + 2 })).toBe(4);
      });

      it("a position of another replica's row splits rows of its time by replica name", async () => {
        await write(audit(), [rec({ requestId: 'x1', time: T0 + 1 }), rec({ requestId: 'x2', time: T0 + 2 }), rec({ requestId: 'x3', time: T0 + 2 }), rec({ requestId: 'x4', time: T0 + 3 })]);
        const at = T0 + 2;
        // '' sorts before every name, `${me()}~` after this one (it extends it).
        const before: AuditPosition = { time: at, replica: '', id: Number.MAX_SAFE_INTEGER };
        const after: AuditPosition = { time: at, replica: `${me()}~`, id: 0 };
        const ids = (rows: AuditRow[]) => rows.map((r) => r.id);
        expect(ids(await audit().page({}, { limit: 10, after }))).toEqual([3, 2, 1]);
        expect(ids(await audit().page({}, { limit: 10, after: before }))).toEqual([1]);
        expect(ids(await audit().chunk({}, { limit: 10, after: before }))).toEqual([2, 3, 4]);
        expect(ids(await audit().chunk({}, { limit: 10, after }))).toEqual([4]);
      });

      it.skipIf(oneReplica)('across replicas: one order for all, ties of time by replica then id, and a replica filter', async () => {
        const b = await replica('replica-b');
        const c = await replica('replica-0');
        // Same times on every replica, so the ties decide most of the order.
        await write(audit(), [0, 1, 1, 2, 2].map((t, i) => rec({ requestId: `a${i}`, time: T0 + t, decision: i % 2 ? 'deny' : 'allow' })));
        await write(b.audit, [1, 1, 2, 3].map((t, i) => rec({ requestId: `b${i}`, time: T0 + t, decision: i % 2 ? 'deny' : 'allow' })));
        await write(c.audit, [1, 2, 2].map((t, i) => rec({ requestId: `c${i}`, time: T0 + t, decision: 'deny' })));
        const want = (await chunked(audit(), {}, 1000)).sort(byPosition);
        expect(want).toHaveLength(12);
        for (const limit of [1, 2, 5, 100]) {
          expect((await chunked(b.audit, {}, limit)).map(keyOf), `chunk ${limit}`).toEqual(want.map(keyOf));
          expect((await paged(c.audit, {}, limit)).map(keyOf), `page ${limit}`).toEqual([...want].reverse().map(keyOf));
          const denied = want.filter((r) => r.decision === 'deny');
          expect((await paged(audit(), { decision: 'deny' }, limit)).map(keyOf)).toEqual([...denied].reverse().map(keyOf));
          expect((await chunked(audit(), { replica: 'replica-b' }, limit)).map(keyOf)).toEqual(want.filter((r) => r.replica === 'replica-b').map(keyOf));
        }
        expect(await audit().count({ replica: 'replica-0' })).toBe(3);
        expect(await audit().count({ decision: 'deny' })).toBe(7);
      });

      it('adminPage: newest first in (time, replica, id) keyset pages, each row chained', async () => {
        const ids = [];
        ids.push(await audit().appendAdmin(admin({ time: T0 + 1, action: 'admin.login', target: null, beforeJson: null, afterJson: null })));
        ids.push(await audit().appendAdmin(admin({ time: T0 + 5 })));
        ids.push(await audit().appendAdmin(admin({ time: T0 + 5, action: 'token.revoke', target: 'tok_1' })));
        ids.push(await audit().appendAdmin(admin({ time: T0 + 3.7, actor: 'ä\u0000' })));
        expect(ids).toEqual([1, 2, 3, 4]);
        const first = await audit().adminPage({ limit: 3 });
        expect(first.map((r) => r.id)).toEqual([3, 2, 4]);
        const rest = await audit().adminPage({ limit: 3, after: posOf(first[2]!) });
        expect(rest.map((r) => r.id)).toEqual([1]);
        expect(await audit().adminPage({ limit: 3, after: posOf(rest[0]!) })).toEqual([]);
        const byId = [...first, ...rest].sort((a, b) => a.id - b.id);
        expect(byId[0]).toEqual({ replica: me(), id: 1, time: T0 + 1, actor: 'admin', action: 'admin.login', target: null, beforeJson: null, afterJson: null, prevHash: GENESIS, rowHash: expect.any(String) });
        expect(byId[2]).toMatchObject({ target: 'tok_1', beforeJson: '{"a":1}', afterJson: '{"a":2,"secret":"***"}' });
        expect(byId[3]).toMatchObject({ time: T0 + 3 });
        expectLinked(byId, adminChainRowOf, ADMIN_COLUMNS);
        expect(await audit().verify(chainOf('admin'))).toEqual({ chain: chainOf('admin'), ok: true, count: 4, anchorId: 0, headId: 4, headHash: byId[3]!.rowHash });
      });

      it.skipIf(oneReplica)("adminPage shows every replica's admin rows in one order", async () => {
        const b = await replica('replica-b');
        await audit().appendAdmin(admin({ time: T0 + 1 }));
        await b.audit.appendAdmin(admin({ time: T0 + 1 }));
        await b.audit.appendAdmin(admin({ time: T0 + 2 }));
        await audit().appendAdmin(admin({ time: T0 + 2 }));
        const want = [...(await audit().adminPage({ limit: 10 }))];
        expect(want.map(keyOf)).toEqual([...want].sort(byPosition).reverse().map(keyOf));
        expect(want).toHaveLength(4);
        const one = await b.audit.adminPage({ limit: 1 });
        const next = await b.audit.adminPage({ limit: 10, after: posOf(one[0]!) });
        expect([...one, ...next].map(keyOf)).toEqual(want.map(keyOf));
      });

      it('overview: counts of [start, end) grouped by latency, decision and reason, by latency', async () => {
        const start = T0 + 60_000;
        await write(audit(), [
          rec({ time: start - 1, latencyMs: 5 }),
          rec({ time: start, latencyMs: 5 }),
          rec({ time: start + 10, latencyMs: 5.2 }),
          rec({ time: start + 20, latencyMs: 5, decision: 'deny', reason: 'rate_limited', status: 429 }),
          rec({ time: start + 30, latencyMs: 30 }),
          rec({ time: start + 40, latencyMs: 1, decision: 'error', reason: 'upstream_error', status: 502 }),
          rec({ time: start + 59_999, latencyMs: 30, decision: 'deny', reason: 'forbidden', status: 403 }),
          rec({ time: start + 60_000, latencyMs: 5 }),
        ]);
        const groups = await audit().overview(start, start + 60_000);
        expect(groups.map((g) => g.latencyMs)).toEqual([...groups.map((g) => g.latencyMs)].sort((a, b) => a - b));
        const key = (g: { latencyMs: number; decision: string; reason: string }) => `${g.latencyMs}|${g.decision}|${g.reason}`;
        expect([...groups].sort((a, b) => (key(a) < key(b) ? -1 : 1))).toEqual([
          { latencyMs: 1, decision: 'error', reason: 'upstream_error', count: 1 },
          { latencyMs: 30, decision: 'allow', reason: 'allowed', count: 1 },
          { latencyMs: 30, decision: 'deny', reason: 'forbidden', count: 1 },
          { latencyMs: 5, decision: 'allow', reason: 'allowed', count: 2 },
          { latencyMs: 5, decision: 'deny', reason: 'rate_limited', count: 1 },
        ]);
        expect(await audit().overview(start + 120_000, start + 180_000)).toEqual([]);
      });

      it('top: per dimension, the most requests and the most refusals in [start, end), ties by key, nulls left out', async () => {
        const start = T0 + 60_000;
        const deny = { decision: 'deny' as const, reason: 'forbidden', status: 403 };
        await write(audit(), [
          rec({ time: start - 1, user: 'zed' }),
          rec({ time: start, user: 'bob', path: '/a' }),
          rec({ time: start + 1, user: 'bob', path: '/a', ...deny }),
          rec({ time: start + 2, user: 'carol', path: '/b', tokenId: 'tok-1', clientId: null, ...deny }),
          rec({ time: start + 3, user: 'carol', path: '/b', tokenId: 'tok-1', clientId: null, decision: 'deny', reason: 'rate_limited', status: 429 }),
          rec({ time: start + 4, user: 'alice', path: '/c' }),
          rec({ time: start + 5, user: 'alice', path: '/c' }),
          rec({ time: start + 6, user: null, path: '/c', clientId: null }),
          rec({ time: start + 60_000, user: 'zed', ...deny }),
        ]);
        const end = start + 60_000;
        const users = await audit().top(start, end, 'user', 10);
        expect(users.byRequests).toEqual([
          { key: 'alice', requests: 2, refusals: 0 },
          { key: 'bob', requests: 2, refusals: 1 },
          { key: 'carol', requests: 2, refusals: 2 },
        ]);
        expect(users.byRefusals).toEqual([
          { key: 'carol', requests: 2, refusals: 2 },
          { key: 'bob', requests: 2, refusals: 1 },
        ]);
        expect((await audit().top(start, end, 'user', 1)).byRequests).toEqual([{ key: 'alice', requests: 2, refusals: 0 }]);
        expect(await audit().top(start, end, 'token', 10)).toEqual({ byRequests: [{ key: 'tok-1', requests: 2, refusals: 2 }], byRefusals: [{ key: 'tok-1', requests: 2, refusals: 2 }] });
        expect((await audit().top(start, end, 'client', 10)).byRequests).toEqual([{ key: 'app-1', requests: 4, refusals: 1 }]);
        expect((await audit().top(start, end, 'path', 10)).byRequests).toEqual([
          { key: '/c', requests: 3, refusals: 0 },
          { key: '/a', requests: 2, refusals: 1 },
          { key: '/b', requests: 2, refusals: 2 },
        ]);
        expect(await audit().top(start + 120_000, start + 180_000, 'user', 10)).toEqual({ byRequests: [], byRefusals: [] });
      });
    });

    describe('verify', () => {
      it('an empty chain verifies from genesis', async () => {
        expect(await audit().verify(chainOf('request'))).toEqual({ chain: chainOf('request'), ok: true, count: 0, anchorId: 0, headId: 0, headHash: GENESIS });
        expect(await audit().verify(chainOf('admin'))).toMatchObject({ ok: true, count: 0, headHash: GENESIS });
      });

      it('reports progress every 10,000 rows', async () => {
        const w = audit().requestWriter('inline');
        for (let b = 0; b < 21; b++) {
          const n = b === 20 ? 1 : 1000;
          expect(await w.write(Array.from({ length: n }, (_, i) => encodeRow(rec({ requestId: `v${b}-${i}`, time: T0 + b }))), 1000)).toBeUndefined();
        }
        await w.close();
        const seen: number[] = [];
        expect(await audit().verify(chainOf('request'), (n) => seen.push(n))).toMatchObject({ ok: true, count: 20_001, headId: 20_001 });
        expect(seen).toEqual([10_000, 20_000]);
      });

      describe('breaks', () => {
        const tamper = (t: AuditTamper) => backend.tamperAudit!(f.stores, t);
        /** Five request rows; their hashes by id. */
        async function five(): Promise<Map<number, string>> {
          await write(audit(), [1, 2, 3, 4, 5].map((i) => rec({ requestId: `t${i}`, time: T0 + i })));
          return new Map((await chunked(audit())).map((r) => [r.id, r.rowHash]));
        }

        it.skipIf(noTamper)('an edited row breaks the chain at that row', async () => {
          const hashes = await five();
          await tamper({ table: 'audit_log', replica: me(), id: 3, set: { path: '/rest/evil' } });
          expect(await audit().verify(chainOf('request'))).toEqual({
            chain: chainOf('request'), ok: false, count: 3, anchorId: 0, headId: 2, headHash: hashes.get(2),
            break: { id: 3, problem: 'edited', detail: 'row 3 does not match its hash (contents changed)' },
          });
        });

        it.skipIf(noTamper)('editing, adding or clearing a 0.7 column (wouldDeny, facts) breaks the chain at that row', async () => {
          await write(audit(), [1, 2, 3].map((i) => rec({ requestId: `t${i}`, time: T0 + i, wouldDeny: i === 2 ? 'read_only' : null, facts: '{"v":1}' })));
          // Latest row first: each edit moves the first break one row earlier.
          const edits: Array<[number, Record<string, string | null>]> = [[3, { facts: '{"v":1,"g":["jira-administrators"]}' }], [2, { would_deny: null }], [1, { would_deny: 'lockdown' }]];
          for (const [id, set] of edits) {
            await tamper({ table: 'audit_log', replica: me(), id, set });
            expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: false, break: { id, problem: 'edited' } });
          }
        });

        it.skipIf(noTamper)('a deleted middle row breaks the chain at the row after it', async () => {
          const hashes = await five();
          await tamper({ table: 'audit_log', replica: me(), id: 3, delete: true });
          expect(await audit().verify(chainOf('request'))).toEqual({
            chain: chainOf('request'), ok: false, count: 3, anchorId: 0, headId: 2, headHash: hashes.get(2),
            break: { id: 4, problem: 'missing_before', detail: 'row 4 follows row 2: 1 row(s) missing or the chain was re-linked' },
          });
        });

        it.skipIf(noTamper)('a re-linked row, or an edited one whose hash was recomputed, breaks at its link', async () => {
          const hashes = await five();
          await tamper({ table: 'audit_log', replica: me(), id: 3, set: { prev_hash: GENESIS } });
          expect((await audit().verify(chainOf('request'))).break).toEqual({
            id: 3, problem: 'prev_hash_mismatch', detail: 'row 3 does not link to row 2 (row inserted, removed or re-linked)',
          });
          // Restored link, edited contents, and a row hash that matches them: the next row's link breaks.
          const row3 = (await chunked(audit())).find((r) => r.id === 3)!;
          const edited = { ...chainRowOf(row3), path: '/rest/evil' };
          await tamper({ table: 'audit_log', replica: me(), id: 3, set: { prev_hash: hashes.get(2)!, path: '/rest/evil', row_hash: hashRow(hashes.get(2)!, edited, REQUEST_COLUMNS) } });
          expect(await audit().verify(chainOf('request'))).toMatchObject({
            ok: false, count: 4, headId: 3, break: { id: 4, problem: 'prev_hash_mismatch', detail: 'row 4 does not link to row 3 (row inserted, removed or re-linked)' },
          });
        });

        it.skipIf(noTamper)('an edited admin row breaks the admin chain only', async () => {
          await write(audit(), [rec()]);
          for (const t of [1, 2, 3]) await audit().appendAdmin(admin({ time: T0 + t }));
          await tamper({ table: 'admin_audit', replica: me(), id: 2, set: { after_json: '{"a":3}' } });
          expect(await audit().verify(chainOf('admin'))).toMatchObject({ ok: false, count: 2, headId: 1, break: { id: 2, problem: 'edited' } });
          expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 1 });
        });

        it.skipIf(oneReplica || noTamper)("a row moved to another replica's chain breaks both chains", async () => {
          const b = await replica('replica-b');
          await five();
          await write(b.audit, [rec({ requestId: 'b1' })]);
          await tamper({ table: 'audit_log', replica: me(), id: 3, set: { replica: 'replica-b' } });
          expect((await audit().verify(chainOf('request'))).break).toMatchObject({ id: 4, problem: 'missing_before' });
          expect((await audit().verify(chainOf('request', 'replica-b'))).break).toMatchObject({ id: 3, problem: 'missing_before' });
        });
      });
    });

    describe('retention', () => {
      const settings = (over: Partial<RetentionSettings> = {}): RetentionSettings => ({ retentionDays: 30, maxEntries: 1_000_000, batchRows: 2, now: T0, ...over });

      it('by age: deletes a prefix of each chain, moves its anchor, and verify still proves the rest', async () => {
        await write(audit(), [rec({ time: T0 - 40 * DAY }), rec({ time: T0 - 35 * DAY }), rec({ time: T0 - 31 * DAY })]);
        await write(audit(), [rec({ time: T0 - 30 * DAY }), rec({ time: T0 - DAY })]);
        for (const t of [T0 - 50 * DAY, T0 - 31 * DAY, T0]) await audit().appendAdmin(admin({ time: t }));
        const before = new Map((await chunked(audit())).map((r) => [r.id, r.rowHash]));
        expect(await audit().prune(settings())).toEqual({ deletedByAge: 5, deletedByCount: 0 });
        expect((await chunked(audit())).map((r) => r.id)).toEqual([4, 5]);
        expect(await audit().verify(chainOf('request'))).toEqual({ chain: chainOf('request'), ok: true, count: 2, anchorId: 3, headId: 5, headHash: before.get(5) });
        expect(await audit().verify(chainOf('admin'))).toMatchObject({ ok: true, count: 1, anchorId: 2, headId: 3 });
        // The chain goes on from its head; nothing more is old enough on a second pass.
        await write(audit(), [rec({ time: T0 })]);
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 3, anchorId: 3, headId: 6 });
        expect(await audit().prune(settings())).toEqual({ deletedByAge: 0, deletedByCount: 0 });
      });

      it('by age: stops at the first row that is not expired, as the chain is written', async () => {
        await write(audit(), [rec({ time: T0 - 40 * DAY }), rec({ time: T0 - DAY }), rec({ time: T0 - 40 * DAY })]);
        expect(await audit().prune(settings())).toEqual({ deletedByAge: 1, deletedByCount: 0 });
        expect((await chunked(audit())).map((r) => r.id).sort()).toEqual([2, 3]);
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, anchorId: 1, count: 2 });
      });

      it('a chain pruned to nothing keeps its head in the anchor, and the next row links onto it', async () => {
        await write(audit(), [1, 2, 3].map((i) => rec({ time: T0 - 40 * DAY + i })));
        const head = (await audit().page({}, { limit: 1 }))[0]!;
        expect(await audit().prune(settings({ batchRows: 1000 }))).toEqual({ deletedByAge: 3, deletedByCount: 0 });
        expect(await audit().count({})).toBe(0);
        expect(await audit().chains()).toEqual(expect.arrayContaining([chainOf('request')]));
        expect(await audit().verify(chainOf('request'))).toEqual({ chain: chainOf('request'), ok: true, count: 0, anchorId: 3, headId: 3, headHash: head.rowHash });
        await write(audit(), [rec({ time: T0 })]);
        expect((await audit().page({}, { limit: 1 }))[0]).toMatchObject({ id: 4, prevHash: head.rowHash });
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 1, anchorId: 3, headId: 4 });
      });

      it('by count: keeps exactly maxEntries request rows, the newest; admin rows are kept by age alone', async () => {
        await write(audit(), Array.from({ length: 10 }, (_, i) => rec({ requestId: `n${i}`, time: T0 - DAY + i })));
        for (let i = 0; i < 3; i++) await audit().appendAdmin(admin({ time: T0 - DAY + i }));
        expect(await audit().prune(settings({ maxEntries: 4, batchRows: 3 }))).toEqual({ deletedByAge: 0, deletedByCount: 6 });
        expect((await chunked(audit())).map((r) => r.id)).toEqual([7, 8, 9, 10]);
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, count: 4, anchorId: 6 });
        expect(await audit().verify(chainOf('admin'))).toMatchObject({ ok: true, count: 3, anchorId: 0 });
        expect(await audit().prune(settings({ maxEntries: 4 }))).toEqual({ deletedByAge: 0, deletedByCount: 0 });
      });

      it('stops before the next batch once the signal is aborted', async () => {
        await write(audit(), [1, 2, 3].map((i) => rec({ time: T0 - 40 * DAY + i })));
        const signal = AbortSignal.abort();
        expect(await audit().prune(settings({ signal, maxEntries: 0 }))).toEqual({ deletedByAge: 0, deletedByCount: 0 });
        expect(await audit().count({})).toBe(3);
      });

      it.skipIf(oneReplica)('by count across replicas: keeps exactly maxEntries rows, the newest in (time, replica, id) order', async () => {
        const b = await replica('replica-b');
        await write(audit(), [0, 2, 4, 6, 8].map((t) => rec({ time: T0 - DAY + t })));
        await write(b.audit, [1, 2, 5, 7, 9].map((t) => rec({ time: T0 - DAY + t })));
        const keep = (await chunked(audit())).sort(byPosition).slice(-6);
        expect(await b.audit.prune(settings({ maxEntries: 6 }))).toEqual({ deletedByAge: 0, deletedByCount: 4 });
        expect((await chunked(audit())).map(keyOf)).toEqual(keep.map(keyOf));
        for (const name of [me(), 'replica-b']) expect(await audit().verify(chainOf('request', name))).toMatchObject({ ok: true });
        expect((await audit().verify(chainOf('request'))).anchorId + (await audit().verify(chainOf('request', 'replica-b'))).anchorId).toBe(4);
      });

      it.skipIf(oneReplica)('by age across replicas: every chain, request and admin, is pruned by the one pass', async () => {
        const b = await replica('replica-b');
        await write(audit(), [rec({ time: T0 - 40 * DAY }), rec({ time: T0 })]);
        await write(b.audit, [rec({ time: T0 - 40 * DAY }), rec({ time: T0 - 39 * DAY }), rec({ time: T0 })]);
        await b.audit.appendAdmin(admin({ time: T0 - 40 * DAY }));
        expect(await audit().prune(settings())).toEqual({ deletedByAge: 4, deletedByCount: 0 });
        expect(await audit().verify(chainOf('request'))).toMatchObject({ ok: true, anchorId: 1, count: 1 });
        expect(await audit().verify(chainOf('request', 'replica-b'))).toMatchObject({ ok: true, anchorId: 2, count: 1 });
        expect(await audit().verify(chainOf('admin', 'replica-b'))).toMatchObject({ ok: true, anchorId: 1, count: 0 });
      });

      it.skipIf(oneReplica)('two replicas pruning at once: one does the work, the other returns zeros', async () => {
        const b = await replica('replica-b');
        await write(audit(), Array.from({ length: 150 }, (_, i) => rec({ time: T0 - 40 * DAY + i })));
        await write(b.audit, Array.from({ length: 150 }, (_, i) => rec({ time: T0 - 40 * DAY + i })));
        // One row per transaction: the pass outlasts the other replica's attempt by far.
        const results = await Promise.all([audit().prune(settings({ batchRows: 1 })), b.audit.prune(settings({ batchRows: 1 }))]);
        expect(results).toEqual(expect.arrayContaining([{ deletedByAge: 300, deletedByCount: 0 }, { deletedByAge: 0, deletedByCount: 0 }]));
        expect(await audit().count({})).toBe(0);
        for (const name of [me(), 'replica-b']) expect(await audit().verify(chainOf('request', name))).toMatchObject({ ok: true, anchorId: 150, headId: 150 });
      });
    });

    describe('copying (anchorOf, headOf, readChain, restoreChain, restoreAnchor)', () => {
      const settings: RetentionSettings = { retentionDays: 30, maxEntries: 1_000_000, batchRows: 2, now: T0 };

      it('an empty chain: no anchor, the head at genesis, no rows', async () => {
        expect(await audit().anchorOf(chainOf('request'))).toBeUndefined();
        expect(await audit().headOf(chainOf('admin'))).toEqual({ id: 0, hash: GENESIS });
        expect(await audit().readChain(chainOf('request'), 0, 10)).toEqual({ kind: 'request', rows: [] });
        expect(await audit().readChain(chainOf('admin'), 0, 10)).toEqual({ kind: 'admin', rows: [] });
      });

      it('readChain: the rows as stored, in id order (not time order) after an id, at most `limit`', async () => {
        await write(audit(), [1, 2, 3, 4, 5].map((i) => rec({ requestId: `r${i}`, time: T0 + 10 - i })));
        await audit().appendAdmin(admin({ time: T0 + 1 }));
        await audit().appendAdmin(admin({ time: T0, actor: 'other' }));
        const all = (await chunked(audit())).sort((a, b) => a.id - b.id);
        expect(await audit().readChain(chainOf('request'), 0, 2)).toEqual({ kind: 'request', rows: all.slice(0, 2) });
        expect(await audit().readChain(chainOf('request'), 2, 10)).toEqual({ kind: 'request', rows: all.slice(2) });
        expect(await audit().readChain(chainOf('request'), 5, 10)).toEqual({ kind: 'request', rows: [] });
        const admins = (await audit().adminPage({ limit: 10 })).sort((a, b) => a.id - b.id);
        expect(await audit().readChain(chainOf('admin'), 0, 10)).toEqual({ kind: 'admin', rows: admins });
        expect(await audit().headOf(chainOf('request'))).toEqual({ id: 5, hash: all[4]!.rowHash });
        expect(await audit().headOf(chainOf('admin'))).toEqual({ id: 2, hash: admins[1]!.rowHash });
      });

      it('round trip: anchors and rows as stored; the copy verifies to the same heads, answers every filter alike, and its writers go on', async () => {
        await write(audit(), [rec({ requestId: 'old1', time: T0 - 40 * DAY }), rec({ requestId: 'old2', time: T0 - 35 * DAY })]);
        const data = [1, 2, 3, 4, 5, 6].map((i) =>
          rec({ requestId: `k${i}`, time: T0 + i, user: `u${i % 2}`, path: `/rest/api/2/issue/A-${i % 3}`, tokenId: i % 2 ? 'tok_1' : null, clientIp: `10.0.0.${i % 2}`, clientId: i % 3 ? 'app-1' : null }),
        );
        await write(audit(), data.slice(0, 4));
        await write(audit(), data.slice(4));
        for (const t of [T0 - 40 * DAY, T0, T0 + 1]) await audit().appendAdmin(admin({ time: t }));
        const head = await audit().headOf(chainOf('request'));
        const old2 = (await audit().readChain(chainOf('request'), 1, 1)).rows[0]!;
        expect(await audit().prune(settings)).toEqual({ deletedByAge: 3, deletedByCount: 0 });
        expect(await audit().anchorOf(chainOf('request'))).toEqual({ lastId: 2, lastHash: old2.rowHash, lastTime: T0 - 35 * DAY, deletedTotal: 2, updatedAt: T0 });
        expect(await audit().headOf(chainOf('request'))).toEqual(head);
        await withFreshStores(backend, async (copy) => {
          await copyChains(audit(), copy.audit, 2);
          const chains = await audit().chains();
          expect(await copy.audit.chains()).toEqual(chains);
          for (const chain of chains) {
            expect(await copy.audit.anchorOf(chain)).toEqual(await audit().anchorOf(chain));
            expect(await copy.audit.headOf(chain)).toEqual(await audit().headOf(chain));
            expect(await copy.audit.verify(chain)).toEqual(await audit().verify(chain));
          }
          expect(await copy.audit.verify(chainOf('request'))).toMatchObject({ ok: true, count: 6, anchorId: 2, headId: head.id, headHash: head.hash });
          const filters: AuditFilters[] = [{}, { user: 'u1' }, { token: 'tok_1' }, { path: '/rest/api/2/issue/A-1' }, { ip: '10.0.0.0' }, { client: 'app-1' }, { from: T0 + 3 }];
          for (const fl of filters) {
            expect(await chunked(copy.audit, fl), JSON.stringify(fl)).toEqual(await chunked(audit(), fl));
            expect(await paged(copy.audit, fl, 2), JSON.stringify(fl)).toEqual(await paged(audit(), fl, 2));
            expect(await copy.audit.count(fl)).toBe(await audit().count(fl));
          }
          expect(await copy.audit.adminPage({ limit: 10 })).toEqual(await audit().adminPage({ limit: 10 }));
          expect(await copy.audit.overview(T0, T0 + 60_000)).toEqual(await audit().overview(T0, T0 + 60_000));
          await write(copy.audit, [rec({ requestId: 'next', time: T0 + 100, user: 'u1' })]);
          const adminHead = await copy.audit.headOf(chainOf('admin'));
          expect(await copy.audit.appendAdmin(admin({ time: T0 + 100 }))).toBe(adminHead.id + 1);
          expect((await copy.audit.page({ user: 'u1' }, { limit: 1 }))[0]).toMatchObject({ id: head.id + 1, prevHash: head.hash, requestId: 'next' });
          expect(await copy.audit.verify(chainOf('request'))).toMatchObject({ ok: true, count: 7, anchorId: 2 });
          expect(await copy.audit.verify(chainOf('admin'))).toMatchObject({ ok: true, count: 3, anchorId: 1 });
        });
      });

      it('a chain pruned to nothing is copied as its anchor alone', async () => {
        await write(audit(), [rec({ time: T0 - 40 * DAY }), rec({ time: T0 - 39 * DAY })]);
        await audit().prune(settings);
        await withFreshStores(backend, async (copy) => {
          await copyChains(audit(), copy.audit);
          expect(await copy.audit.chains()).toEqual([chainOf('request')]);
          expect(await copy.audit.verify(chainOf('request'))).toEqual(await audit().verify(chainOf('request')));
          await write(copy.audit, [rec()]);
          expect(await copy.audit.verify(chainOf('request'))).toMatchObject({ ok: true, count: 1, anchorId: 2, headId: 3 });
        });
      });

      it("restoreChain takes only the chain's own rows, and a batch whose rows clash with stored ones writes none of them", async () => {
        await write(audit(), [rec({ requestId: 'a' }), rec({ requestId: 'b' }), rec({ requestId: 'c' })]);
        const batch = await audit().readChain(chainOf('request'), 0, 10);
        if (batch.kind !== 'request') throw new Error('request rows expected');
        await withFreshStores(backend, async (copy) => {
          await expect(copy.audit.restoreChain(chainOf('admin'), batch)).rejects.toThrow();
          await expect(copy.audit.restoreChain(chainOf('request'), { kind: 'request', rows: batch.rows.map((r) => ({ ...r, replica: 'elsewhere' })) })).rejects.toThrow();
          expect(await copy.audit.chains()).toEqual([]);
          await copy.audit.restoreChain(chainOf('request'), { kind: 'request', rows: batch.rows.slice(1, 2) });
          await expect(copy.audit.restoreChain(chainOf('request'), batch)).rejects.toThrow();
          expect((await chunked(copy.audit)).map((r) => r.requestId)).toEqual(['b']);
        });
      });

      it.skipIf(oneReplica)("every replica's chains are copied as they are, each under its own name", async () => {
        const b = await replica('replica-b');
        await write(audit(), [rec({ requestId: 'a1' }), rec({ requestId: 'a2', time: T0 + 2 })]);
        await write(b.audit, [rec({ requestId: 'b1', time: T0 + 1 }), rec({ requestId: 'b2', time: T0 - 40 * DAY })]);
        await b.audit.appendAdmin(admin({ time: T0 - 40 * DAY }));
        await b.audit.appendAdmin(admin({ time: T0 }));
        await audit().prune(settings);
        await withFreshStores(backend, async (copy) => {
          await copyChains(audit(), copy.audit, 1);
          const chains = await audit().chains();
          expect(chains).toHaveLength(3);
          expect(await copy.audit.chains()).toEqual(chains);
          for (const chain of chains) expect(await copy.audit.verify(chain)).toEqual(await audit().verify(chain));
          expect(await chunked(copy.audit)).toEqual(await chunked(audit()));
          expect(await copy.audit.adminPage({ limit: 10 })).toEqual(await audit().adminPage({ limit: 10 }));
        });
      });

      it.skipIf(!oneReplica)("a store of one replica (SQLite) reads no other replica's chain and refuses to store one", async () => {
        const other = chainOf('request', 'replica-b');
        const anchor: ChainAnchor = { lastId: 1, lastHash: GENESIS, lastTime: T0, deletedTotal: 1, updatedAt: T0 };
        await write(audit(), [rec()]);
        expect(await audit().readChain(other, 0, 10)).toEqual({ kind: 'request', rows: [] });
        expect(await audit().anchorOf(other)).toBeUndefined();
        expect(await audit().headOf(other)).toEqual({ id: 0, hash: GENESIS });
        await expect(audit().restoreChain(other, { kind: 'request', rows: [] })).rejects.toThrow(/replica/);
        await expect(audit().restoreAnchor(other, anchor)).rejects.toThrow(/replica/);
        expect(await audit().anchorOf(chainOf('request'))).toBeUndefined();
      });
    });
  });
}
