// Copies everything one install keeps into an empty store of either kind (`jira-auth-sidecar store
// copy`): SQLite to PostgreSQL to move a sidecar into a cluster, and back. Orchestration only, over
// the stores' dump and restore methods: secrets stay as stored (token and key hashes, password
// hashes, sealed credentials), and audit rows keep their ids, links and hashes, so the target's
// chains verify as the source's did and end on the same heads. Not a live migration: the source
// should not be written meanwhile (rows a chain gains after its head was read are not copied).
import type { ChainAnchor, ChainHead, ChainId, ChainReport, ChainRows } from './audit-store.js';
import type { Stores } from './stores.js';

export type CopyConcern = 'config' | 'tokens' | 'admin' | 'credentials' | 'lifecycle' | 'audit';

export interface CopyProgress {
  concern: CopyConcern;
  /** What is being copied, for a progress line ("API tokens", "[replica] request log"). */
  label: string;
  copied: number;
  /** Known before the copy for an audit chain (ids are consecutive: head minus anchor); else absent. */
  total?: number;
}

export interface CopyOptions {
  onProgress?: (p: CopyProgress) => void;
  /** Rows per read and per target transaction (tokens, audit rows). */
  batchRows?: number;
}

/** One audit chain as copied. */
export interface ChainCopy {
  chain: ChainId;
  rows: number;
  anchor?: ChainAnchor;
  /** The source's head when the copy began: the target's chain must end on it. */
  head: ChainHead;
}

export interface CopyResult {
  config: { version: number; changes: number };
  tokens: number;
  adminUsers: number;
  adminSessions: number;
  adminApiKeys: number;
  loginFailures: number;
  credentials: number;
  /** Token warnings noted and notification deliveries logged (the token lifecycle). */
  lifecycle: { warnings: number; deliveries: number };
  chains: ChainCopy[];
}

/** The copy was not started: nothing was written to the target. */
export class CopyRefused extends Error {}

export const chainLabel = (c: ChainId) => `[${c.replica}] ${c.kind === 'request' ? 'request log' : 'admin log'}`;

/** What a store holds already, as phrases naming it; empty: nothing. */
export async function heldData(s: Stores): Promise<string[]> {
  const held: string[] = [];
  const config = await s.config.dump();
  if (config.saved || config.version > 0) held.push(`a saved configuration (version ${config.version})`);
  for await (const batch of s.tokens.dump(1)) {
    if (batch.length) held.push('API tokens');
    break;
  }
  const admin = await s.admin.dump();
  const count = (n: number, what: string) => {
    if (n) held.push(`${n} ${what}`);
  };
  count(admin.users.length, 'admin user(s)');
  count(admin.sessions.length, 'admin session(s)');
  count(admin.apiKeys.length, 'admin API key(s)');
  count(admin.loginFailures.length, 'failed-login row(s)');
  count((await s.credentials.list()).length, 'stored credential(s)');
  const lifecycle = await s.lifecycle.dump();
  count(lifecycle.warnings.length, 'token warning(s)');
  count(lifecycle.deliveries.length, 'notification delivery row(s)');
  const chains = await s.audit.chains();
  if (chains.length) held.push(`audit log chains (${chains.map(chainLabel).join(', ')})`);
  return held;
}

/**
 * Copies every concern of `from` into `to`, which must be empty and migrated. Refuses (CopyRefused,
 * before writing anything) a target that holds data, and a SQLite target for chains of a replica
 * other than its own (SQLite holds one replica's chains). A failure after that leaves a partial
 * copy in the target.
 */
export async function copyStores(from: Stores, to: Stores, o: CopyOptions = {}): Promise<CopyResult> {
  const batchRows = o.batchRows ?? 5000;
  const progress = o.onProgress ?? (() => {});

  const held = await heldData(to);
  if (held.length) throw new CopyRefused(`the target is not empty: it holds ${held.join(', ')}; copy into an empty store only (nothing was written)`);
  const chainIds = await from.audit.chains();
  if (to.kind === 'sqlite') {
    const others = [...new Set(chainIds.map((c) => c.replica))].filter((r) => r !== to.audit.replica);
    if (others.length) {
      throw new CopyRefused(
        `a SQLite target holds the audit chains of one replica ("${to.audit.replica}"); the source has chains of ${others.map((r) => `"${r}"`).join(', ')} (nothing was written)`,
      );
    }
  }
  // Heads and anchors first: they bound what each chain's copy reads and are what the target must end on.
  const chains: ChainCopy[] = [];
  for (const chain of chainIds) chains.push({ chain, rows: 0, anchor: await from.audit.anchorOf(chain), head: await from.audit.headOf(chain) });

  progress({ concern: 'config', label: 'saved configuration', copied: 0 });
  const config = await from.config.dump();
  await to.config.restore(config);
  progress({ concern: 'config', label: 'saved configuration', copied: 1, total: 1 });

  let tokens = 0;
  progress({ concern: 'tokens', label: 'API tokens', copied: 0 });
  for await (const batch of from.tokens.dump(Math.min(batchRows, 1000))) {
    await to.tokens.restore(batch);
    tokens += batch.length;
    progress({ concern: 'tokens', label: 'API tokens', copied: tokens });
  }

  progress({ concern: 'admin', label: 'admin accounts', copied: 0 });
  const admin = await from.admin.dump();
  await to.admin.restore(admin);
  const adminRows = admin.users.length + admin.sessions.length + admin.apiKeys.length + admin.loginFailures.length;
  progress({ concern: 'admin', label: 'admin accounts', copied: adminRows, total: adminRows });

  progress({ concern: 'credentials', label: 'stored credentials', copied: 0 });
  const credentials = await from.credentials.list();
  await to.credentials.restore(credentials);
  progress({ concern: 'credentials', label: 'stored credentials', copied: credentials.length, total: credentials.length });

  progress({ concern: 'lifecycle', label: 'token warnings and notification deliveries', copied: 0 });
  const lifecycle = await from.lifecycle.dump();
  await to.lifecycle.restore(lifecycle);
  const lifecycleRows = lifecycle.warnings.length + lifecycle.deliveries.length;
  progress({ concern: 'lifecycle', label: 'token warnings and notification deliveries', copied: lifecycleRows, total: lifecycleRows });

  for (const c of chains) await copyChain(from, to, c, batchRows, progress);

  return {
    config: { version: config.version, changes: config.saved?.changes.length ?? 0 },
    tokens,
    adminUsers: admin.users.length,
    adminSessions: admin.sessions.length,
    adminApiKeys: admin.apiKeys.length,
    loginFailures: admin.loginFailures.length,
    credentials: credentials.length,
    lifecycle: { warnings: lifecycle.warnings.length, deliveries: lifecycle.deliveries.length },
    chains,
  };
}

async function copyChain(from: Stores, to: Stores, c: ChainCopy, batchRows: number, progress: (p: CopyProgress) => void): Promise<void> {
  const label = chainLabel(c.chain);
  const total = Math.max(0, c.head.id - (c.anchor?.lastId ?? 0));
  progress({ concern: 'audit', label, copied: 0, total });
  if (c.anchor) await to.audit.restoreAnchor(c.chain, c.anchor);
  // From below any id, as verify walks: a row stored before the anchor is copied too, and judged there.
  let after = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const batch = upTo(await from.audit.readChain(c.chain, after, batchRows), c.head.id);
    const n = batch.rows.length;
    if (n) {
      await to.audit.restoreChain(c.chain, batch);
      c.rows += n;
      progress({ concern: 'audit', label, copied: c.rows, total });
    }
    if (n < batchRows) return;
    after = batch.rows[n - 1]!.id;
  }
}

/** The rows up to the head read before the copy: what a writer appended since is not the source's state at the start. */
const upTo = (b: ChainRows, headId: number): ChainRows =>
  b.kind === 'request' ? { kind: 'request', rows: b.rows.filter((r) => r.id <= headId) } : { kind: 'admin', rows: b.rows.filter((r) => r.id <= headId) };

/**
 * What is wrong with the target's audit log after a copy, judged from its verify reports
 * (audit/verify.ts verifyAll): a chain missing or extra, broken, or not ending on the source's head.
 */
export function chainProblems(copied: readonly ChainCopy[], reports: readonly ChainReport[]): string[] {
  const key = (c: ChainId) => `${c.kind}\u0000${c.replica}`;
  const byChain = new Map(reports.map((r) => [key(r.chain), r]));
  const problems: string[] = [];
  for (const c of copied) {
    const r = byChain.get(key(c.chain));
    byChain.delete(key(c.chain));
    if (!r) problems.push(`${chainLabel(c.chain)}: missing on the target`);
    else if (!r.ok) problems.push(`${chainLabel(c.chain)}: broken on the target at row ${r.break?.id} (${r.break?.problem})`);
    else if (r.headId !== c.head.id || r.headHash !== c.head.hash) {
      problems.push(`${chainLabel(c.chain)}: the target ends on row ${r.headId} hash ${r.headHash}, the source on row ${c.head.id} hash ${c.head.hash}`);
    }
  }
  for (const r of byChain.values()) problems.push(`${chainLabel(r.chain)}: on the target but not in the source`);
  return problems;
}
