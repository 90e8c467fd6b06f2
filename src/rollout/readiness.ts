// "Who would break": for each credential kind an admin may turn off and each rule in report mode,
// who still uses it, from where and on what, over a period of recorded requests (issue 18).
// One pass over the rows, memory bounded (Tally), whatever the period.
import type { AuditRow, AuditStore } from '../store/audit-store.js';
import { parseFacts } from '../pipeline/audit/facts.js';
import { csvCell } from '../audit/export.js';
import { pathTemplate } from './path-template.js';
import { recordedVerdict } from './replay.js';
import { scanRows, type ScanOptions } from './scan.js';
import { Tally } from './tally.js';

import type { ReadinessReport, ReadinessSwitch } from '../admin/wire.js';

export type { ReadinessReport, ReadinessSwitch };
type Count = { requests: number };
const zero = (): Count => ({ requests: 0 });

/** Credential kinds an admin turns off with `credentials.<setting>: deny`, and what the switch is called. */
export const CREDENTIAL_SWITCHES: Record<string, { setting: string; title: string }> = {
  basic: { setting: 'basic', title: 'Turn off Basic auth (Jira passwords)' },
  'jira-pat': { setting: 'jiraPat', title: 'Turn off Jira personal access tokens' },
  oauth1: { setting: 'oauth1', title: 'Turn off OAuth 1.0a (application links)' },
  'opaque-bearer': { setting: 'jiraOAuth2', title: "Turn off Jira's own OAuth 2.0 tokens" },
  session: { setting: 'session', title: 'Refuse Jira session cookies on the REST API' },
  anonymous: { setting: 'anonymous', title: 'Refuse anonymous REST calls' },
};

class SwitchTally {
  requests = 0;
  refused = 0;
  first = Infinity;
  last = -Infinity;
  readonly forms: Record<string, number> = {};
  readonly users = new Tally(zero);
  readonly clients = new Tally(zero);
  readonly addresses = new Tally(zero);
  readonly userAgents = new Tally(zero);
  readonly paths = new Tally(zero);
  readonly buckets = new Map<number, number>();

  constructor(
    readonly id: string,
    readonly kind: ReadinessSwitch['kind'],
    readonly title: string,
    readonly setting: string,
    readonly code: string,
  ) {}

  add(r: AuditRow, principal: string, client: string | null, bucketMs: number, form?: string): void {
    this.requests++;
    if (r.time < this.first) this.first = r.time;
    if (r.time > this.last) this.last = r.time;
    if (form) this.forms[form] = (this.forms[form] ?? 0) + 1;
    this.users.at(principal, r.time).requests++;
    if (client) this.clients.at(client, r.time).requests++;
    this.addresses.at(r.clientIp, r.time).requests++;
    this.userAgents.at(r.userAgent ?? '(none)', r.time).requests++;
    this.paths.at(`${r.method} ${pathTemplate(r.path)}`, r.time).requests++;
    const b = Math.floor(r.time / bucketMs) * bucketMs;
    this.buckets.set(b, (this.buckets.get(b) ?? 0) + 1);
  }

  result(from: number, to: number, bucketMs: number, topN: number): ReadinessSwitch {
    const score = (c: Count) => c.requests;
    const series: ReadinessSwitch['series'] = [];
    for (let b = Math.floor(from / bucketMs) * bucketMs; b < to; b += bucketMs) series.push({ t: new Date(b).toISOString(), requests: this.buckets.get(b) ?? 0 });
    return {
      id: this.id, kind: this.kind, title: this.title, setting: this.setting, code: this.code, requests: this.requests, refused: this.refused,
      users: this.users.size, clients: this.clients.size, addresses: this.addresses.size, userAgents: this.userAgents.size,
      firstSeen: this.requests ? new Date(this.first).toISOString() : null, lastSeen: this.requests ? new Date(this.last).toISOString() : null,
      forms: this.forms,
      top: { users: this.users.top(topN, score), clients: this.clients.top(topN, score), addresses: this.addresses.top(topN, score), userAgents: this.userAgents.top(topN, score), paths: this.paths.top(topN, score) },
      series,
    };
  }
}

export interface ReadinessOptions extends ScanOptions {
  topN?: number;
}

/** Hourly buckets up to two days, daily beyond. */
export const bucketFor = (periodMs: number): number => (periodMs <= 2 * 86_400_000 ? 3_600_000 : 86_400_000);

/** The report over rows recorded in [from, to). */
export async function readinessReport(store: AuditStore, from: number, to: number, opts: ReadinessOptions = {}): Promise<ReadinessReport> {
  const bucketMs = bucketFor(to - from);
  const switches = new Map<string, SwitchTally>();
  const switchOf = (id: string, make: () => SwitchTally) => {
    let s = switches.get(id);
    if (!s) switches.set(id, (s = make()));
    return s;
  };
  const visit = (r: AuditRow) => {
    const f = parseFacts(r.facts);
    const refused = !recordedVerdict(r).allow;
    const principal = r.user ?? f?.cp ?? '(unknown)';
    // A PAT's id and an application link's consumer key name the integration; a Basic user name names a user.
    const client = r.tokenId !== null ? `token ${r.tokenId}` : r.clientId !== null ? `client ${r.clientId}` : f?.cp && r.credentialKind !== 'basic' ? f.cp : null;
    const cred = r.credentialKind !== null ? CREDENTIAL_SWITCHES[r.credentialKind] : undefined;
    if (cred) {
      const s = switchOf(`credentials:${cred.setting}`, () => new SwitchTally(`credentials:${cred.setting}`, 'credential', cred.title, `credentials.${cred.setting}: deny`, 'credential_kind_denied'));
      if (refused) s.refused++;
      else s.add(r, principal, client, bucketMs, r.credentialKind === 'basic' ? (f?.cs === 'basic' ? 'Authorization: Basic' : f ? 'os_username/os_password' : 'unknown') : undefined);
    }
    if (refused || !f?.wd) return;
    const seen = new Set<string>();
    for (const [code, rule] of f.wd) {
      if (seen.has(rule)) continue; // a rule counts a request once
      seen.add(rule);
      switchOf(`rule:${rule}`, () => new SwitchTally(`rule:${rule}`, 'rule', `Enforce ${rule}`, `enforcement.rules "${rule}": enforce`, code)).add(r, principal, client, bucketMs);
    }
  };
  const scanned = await scanRows(store, { from, to }, visit, opts);
  const topN = opts.topN ?? 20;
  const list = [...switches.values()].map((s) => s.result(from, to, bucketMs, topN));
  list.sort((a, b) => (a.kind === b.kind ? b.requests - a.requests || a.id.localeCompare(b.id) : a.kind === 'credential' ? -1 : 1));
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), scanned, bucketMs, switches: list };
}

/** One switch's tables as CSV (dimension, name, requests, first seen, last seen), spreadsheet-safe. */
export function readinessCsv(s: ReadinessSwitch): string {
  const lines = ['dimension,name,requests,first_seen,last_seen'];
  for (const [dim, rows] of Object.entries(s.top)) for (const r of rows) lines.push([dim, r.name, r.requests, r.firstSeen, r.lastSeen].map((v) => csvCell(v)).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
