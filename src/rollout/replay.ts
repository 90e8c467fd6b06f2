// Replay (issue 18): a candidate config judged over recorded requests, without calling the IdP or
// Jira. Each audit row keeps the facts the decisions read (pipeline/audit/facts.ts); here they are
// handed to the same decision functions the proxy's stages call, in the proxy's order
// (pipeline/index.ts decisionStages): route-rules -> credentials -> verify -> authorize -> rate-limit.
// No rule is implemented a second time. What a recording cannot tell is said, not guessed:
//   - verification is not replayed: the identity is the one proven then (issuers, claim mappings,
//     client lists of the verifier and verification failures stay as recorded);
//   - the client address is the one resolved then (trustedProxies changes are not replayed);
//   - a request that presented nothing the sidecar recorded (a bypassed path) or was never
//     verified (a passthrough kind the candidate would verify) is "undetermined".
import type { Policy } from '../config/policy.js';
import type { ErrorCode } from '../errors.js';
import type { AuditRow } from '../store/audit-store.js';
import type { CredentialKind, Identity, WouldDeny } from '../pipeline/state.js';
import { parseFacts, ruleOfRecorded, sourceOfRecorded, type RecordedFacts } from '../pipeline/audit/facts.js';
import { routeOfRecordedPath, routeView } from '../pipeline/route-rules/decide.js';
import { reclassifyRecorded } from '../pipeline/credentials/classify.js';
import { accessView, decideAccess } from '../pipeline/authorize/decide.js';
import { costOf, exemptionOf, planRateLimit } from '../pipeline/rate-limit/plan.js';
import { refill } from '../pipeline/rate-limit/token-bucket.js';
import { modesOf } from '../pipeline/enforcement/modes.js';
import { clientAllowed } from '../pipeline/verify/jwt/claims.js';

export interface Verdict {
  allow: boolean;
  /** "allowed" or the refusal code. */
  code: string;
  stage?: string;
  rule?: string;
}

export type ReplayVerdict = (Verdict & { undetermined?: undefined; wouldDeny: WouldDeny[] }) | { undetermined: string };

/** The stages whose refusals are decisions (a 503 of the audit gate or an upstream failure is not). */
const DECISION_STAGES = new Set(['client-ip', 'route-rules', 'credentials', 'verify', 'authorize', 'rate-limit']);

/** What the sidecar decided for a recorded request (report-only rows were allowed). */
export function recordedVerdict(row: Pick<AuditRow, 'decision' | 'stage' | 'reason' | 'rule'>): Verdict {
  if (row.decision === 'deny' && row.stage !== null && DECISION_STAGES.has(row.stage)) {
    const v: Verdict = { allow: false, code: row.reason, stage: row.stage };
    if (row.rule !== null) v.rule = row.rule;
    return v;
  }
  return { allow: true, code: 'allowed' };
}

/** The identity proven when the row was written, from its columns and facts. */
export function recordedIdentity(row: AuditRow, f: RecordedFacts): Identity | undefined {
  const source = sourceOfRecorded(row.credentialKind, f);
  if (row.user === null || source === undefined) return undefined;
  const id: Identity = { username: row.user, source, groups: f.g ?? [], roles: [], isServicePrincipal: f.sp === 1 };
  if (row.issuer !== null) id.issuer = row.issuer;
  if (row.clientId !== null) id.clientId = row.clientId;
  if (row.tokenId !== null) id.tokenId = row.tokenId;
  if (f.sa) id.scope = { access: f.sa, paths: f.sx ?? [] };
  if (f.ti) id.ipAllowlist = f.ti;
  if (f.tl) id.rateLimit = { points: f.tl[0], durationSec: f.tl[1] };
  return id;
}

/**
 * Judges recorded requests under one candidate policy. Rate limits are counted as the limiter
 * counts them (a fixed window per bucket from its first request, every request counted), over the
 * rows in the order given: feed it oldest first.
 */
export class Replayer {
  private readonly windows = new Map<string, { start: number; used: number }>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(readonly policy: Policy) {}

  judge(row: AuditRow): ReplayVerdict {
    const p = this.policy;
    const was = recordedVerdict(row);
    const f = parseFacts(row.facts);
    if (!f) return { undetermined: 'recorded before 0.7 (no decision facts)' };
    const wouldDeny: WouldDeny[] = [];
    const deny = (code: string, stage: string, rule?: string): ReplayVerdict => ({ allow: false, code, stage, ...(rule !== undefined ? { rule } : {}), wouldDeny });
    // A path that could not be canonicalised is refused whatever the settings.
    if (was.stage === 'route-rules') return deny(was.code, 'route-rules', was.rule);

    const route = routeOfRecordedPath(row.method, row.path, f.alt === 1, routeView(p));
    if (route.route === 'unprotected') return { allow: true, code: 'allowed', wouldDeny };

    const modes = modesOf(p);
    const kind = (row.credentialKind ?? undefined) as CredentialKind | undefined;
    let identity: Identity | undefined;
    if (route.route !== 'bypass') {
      // Refused for its shape (malformed, a token in the query, an unknown scheme): not a setting.
      if (was.stage === 'credentials' && (was.code !== 'credential_kind_denied' || kind === undefined)) return deny(was.code, 'credentials', was.rule);
      if (kind === undefined) return { undetermined: row.route === 'bypass' ? 'was on a bypassed path: what it presented was not recorded' : 'no credential recorded' };
      const c = reclassifyRecorded(kind, ruleOfRecorded(kind, f), p, f.cs);
      if (!c) return { undetermined: 'how the credential was classified was not recorded' };
      let action: 'verify' | 'passthrough' | 'deny';
      if (c.ok) action = c.credential.action;
      else if (c.denied && modes.modeOf('credentials', c.rule) === 'report') {
        wouldDeny.push({ code: c.code, stage: 'credentials', rule: `credentials:${c.rule}`, detail: c.detail });
        action = c.denied.action;
      } else return deny(c.code, 'credentials', c.rule);
      if (action === 'verify') {
        // Verification is not replayed: a failure stays one, a success keeps its identity.
        if (was.stage === 'verify') return deny(was.code, 'verify', was.rule);
        identity = recordedIdentity(row, f);
        if (!identity) return { undetermined: `${kind} was not verified when recorded` };
        // Except the verifier's client ACL for app-only tokens, which the candidate may change: asked
        // where the verifier asks it (before authorize), with the verifier's own function.
        if (identity.source === 'jwt' && identity.isServicePrincipal) {
          const issuer = p.config.jwt.issuers.find((i) => i.name === identity!.issuer);
          if (!issuer) return { undetermined: 'its issuer is not in the candidate config' };
          const mapped = identity.clientId !== undefined ? issuer.clients?.jiraAccounts[identity.clientId] : undefined;
          const report = modes.modeOf('clientAcl', issuer.name) === 'report' && mapped !== undefined;
          if (!clientAllowed(issuer, identity.clientId) && !report) return deny('client_not_allowed', 'verify', 'client-acl');
          if (mapped !== identity.username) return { undetermined: 'the service principal maps to another Jira account in the candidate config' };
        }
      }
    }

    const access = decideAccess(
      identity,
      {
        // The recorded request facts the read-only rule reads: a method override as "?_method",
        // the content type as the only header.
        facts: { method: row.method, rawTarget: f.ov === 1 ? `${row.path}?_method=` : row.path, headers: f.ct ? { 'content-type': f.ct } : {}, rawHeaders: [] },
        route: route.route,
        canonicalPath: route.canonicalPath,
        pathAltered: route.altered,
        clientIp: row.clientIp,
        credentialKind: kind,
      },
      accessView(p),
    );
    if (access.wouldDeny) wouldDeny.push(...access.wouldDeny);
    if (access.refusal) return deny(access.refusal.code, 'authorize', access.refusal.rule);

    const cfg = p.config.rateLimit;
    if (identity && cfg.enabled && !exemptionOf(identity, cfg)) {
      const plan = planRateLimit(identity, cfg);
      // The candidate's costs (rateLimit.costs), not the recorded one (facts rc).
      const cost = costOf(row.method, route.canonicalPath ?? row.path, cfg, plan.points).cost;
      let limited: boolean;
      if (plan.fillRate !== undefined) {
        // Token bucket: refilled continuously from the bucket's last request, as the stores do.
        const spec = { max: plan.points, fill: plan.fillRate, intervalMs: plan.durationSec * 1000 };
        const key = `${plan.key}:${plan.points}:${plan.fillRate}:${plan.durationSec}`;
        const b = this.buckets.get(key);
        const tokens = b ? refill(b.tokens, b.at, row.time, spec) : spec.max;
        limited = tokens + 1e-9 < cost;
        this.buckets.set(key, { tokens: limited ? tokens : Math.max(0, tokens - cost), at: Math.max(row.time, b?.at ?? 0) });
      } else {
        const key = `${plan.key}:${plan.points}:${plan.durationSec}`;
        let w = this.windows.get(key);
        if (!w || row.time >= w.start + plan.durationSec * 1000) this.windows.set(key, (w = { start: row.time, used: 0 }));
        w.used += cost;
        limited = w.used > plan.points;
      }
      if (limited) {
        const code: ErrorCode = 'rate_limited';
        if (modes.modeOf('rateLimit', plan.entry) === 'report') wouldDeny.push({ code, stage: 'rate-limit', rule: `rateLimit:${plan.entry}`, detail: plan.fillRate !== undefined ? `${plan.key}: bucket of ${plan.points} empty (${plan.fillRate} per ${plan.durationSec}s)` : `${plan.key} over ${plan.points} per ${plan.durationSec}s` });
        else return deny(code, 'rate-limit', plan.source);
      }
    }
    return { allow: true, code: 'allowed', wouldDeny };
  }
}
