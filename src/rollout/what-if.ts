// "What would this change have done?": a candidate config replayed over a period of recorded
// requests (replay.ts), compared with what happened. Totals first, then who and what, then rows.
import type { Policy } from '../config/policy.js';
import type { AuditRow, AuditStore } from '../store/audit-store.js';
import { pathTemplate } from './path-template.js';
import { recordedVerdict, Replayer } from './replay.js';
import { scanRows, type ScanOptions } from './scan.js';
import { Tally } from './tally.js';
import { parseFacts } from '../pipeline/audit/facts.js';
import type { ReplayChange, ReplayResult } from '../admin/wire.js';

export type { ReplayChange, ReplayResult };
type Counts = { allowedToDenied: number; deniedToAllowed: number };
const zero = (): Counts => ({ allowedToDenied: 0, deniedToAllowed: 0 });

export const REPLAY_NOTES = [
  'Verification is not replayed: each request keeps the identity proven when it was recorded (issuer, claim and client-list changes are not reflected).',
  'Client addresses are the ones resolved then (access.trustedProxies changes are not reflected).',
  'Requests on paths outside protectedPaths were not recorded and are not judged.',
];

export interface ReplayOptions extends ScanOptions {
  maxChanges?: number;
  topN?: number;
  /**
   * Compare with this policy replayed over the same rows instead of with what happened: the change a
   * save makes, without what earlier changes (already saved) would have changed (the Save preview).
   */
  baseline?: Policy;
}

const clientOf = (r: AuditRow): string | null => (r.tokenId !== null ? `token ${r.tokenId}` : r.clientId !== null ? `client ${r.clientId}` : null);
const principalOf = (r: AuditRow, cp?: string): string => r.user ?? cp ?? '(anonymous)';

/** Replays `candidate` over the rows recorded in [from, to). */
export async function replayPeriod(store: AuditStore, candidate: Policy, from: number, to: number, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const replayer = new Replayer(candidate);
  const baseline = opts.baseline ? new Replayer(opts.baseline) : undefined;
  const maxChanges = opts.maxChanges ?? 200;
  const res: ReplayResult = {
    against: baseline ? 'current' : 'recorded',
    from: new Date(from).toISOString(), to: new Date(to).toISOString(), scanned: 0, replayed: 0, unchanged: 0, allowedToDenied: 0, deniedToAllowed: 0,
    codeChanged: 0, wouldDeny: 0, undetermined: 0, undeterminedBy: {}, byCode: {}, byUser: [], byClient: [], byPath: [], users: 0, changes: [], notes: REPLAY_NOTES,
  };
  const users = new Tally(zero);
  const clients = new Tally(zero);
  const paths = new Tally(zero);
  const undetermined = (why: string) => {
    res.undetermined++;
    res.undeterminedBy[why] = (res.undeterminedBy[why] ?? 0) + 1;
  };
  const visit = (row: AuditRow) => {
    // Both judged on every row (each counts its own rate-limit windows), in the same order.
    const before = baseline?.judge(row);
    const now = replayer.judge(row);
    if (now.undetermined !== undefined) return undetermined(now.undetermined);
    if (before?.undetermined !== undefined) return undetermined(before.undetermined);
    res.replayed++;
    const was = before ?? recordedVerdict(row);
    if (was.allow === now.allow) {
      if (!was.allow && was.code !== now.code) res.codeChanged++;
      else res.unchanged++;
      if (now.allow && now.wouldDeny.length) res.wouldDeny++;
      return;
    }
    const dir: keyof Counts = was.allow ? 'allowedToDenied' : 'deniedToAllowed';
    res[dir]++;
    const code = was.allow ? now.code : was.code;
    (res.byCode[code] ??= zero())[dir]++;
    let cp: string | undefined;
    if (row.user === null) cp = parseFacts(row.facts)?.cp;
    users.at(principalOf(row, cp), row.time)[dir]++;
    const client = clientOf(row);
    if (client) clients.at(client, row.time)[dir]++;
    paths.at(`${row.method} ${pathTemplate(row.path)}`, row.time)[dir]++;
    if (res.changes.length < maxChanges) {
      const c: ReplayChange = {
        time: new Date(row.time).toISOString(), replica: row.replica, id: row.id, requestId: row.requestId, method: row.method, path: row.path,
        user: row.user ?? cp ?? null, client, clientIp: row.clientIp, was: was.code, now: now.code,
      };
      if (!now.allow && now.stage) c.stage = now.stage;
      if (!now.allow && now.rule) c.rule = now.rule;
      res.changes.push(c);
    }
  };
  res.scanned = await scanRows(store, { from, to }, visit, opts);
  const n = opts.topN ?? 20;
  const score = (c: Counts) => c.allowedToDenied + c.deniedToAllowed;
  res.byUser = users.top(n, score);
  res.byClient = clients.top(n, score);
  res.byPath = paths.top(n, score);
  res.users = users.size;
  return res;
}
