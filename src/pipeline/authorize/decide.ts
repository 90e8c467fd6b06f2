// Access rules for a request whose route and identity are known. Pure: plain data in, verdicts out.
// Every rule is evaluated and reported (the /api/test explanation lists them all); the first
// denial, in this order, is the refusal:
//   lockdown -> ip-allowlist -> client-acl -> allowed-groups -> read-only -> token-scope
import { perPolicy } from '../../config/policy.js';
import type { ErrorCode } from '../../errors.js';
import { findRange, parseIp, parseRange, parseRanges, type IpRange } from '../ip-match.js';
import { findPattern, parsePathPattern, type PathPattern } from '../path-pattern.js';
import type { CredentialKind, Identity, RequestFacts, RouteKind, Verdict, WouldDeny } from '../state.js';
import { modeView, type ModeView, type RuleFamily } from '../enforcement/modes.js';

export interface AccessView {
  readonly allowedGroups: ReadonlySet<string>;
  readonly readOnlyGroups: ReadonlySet<string>;
  readonly readSafePosts: readonly PathPattern[];
  readonly ipAllowlist: readonly IpRange[];
  readonly groupIpAllowlists: ReadonlyMap<string, readonly IpRange[]>;
  readonly bypassSkipsIpAllowlist: boolean;
  /** Issuer name -> allowed client ids (jwt.issuers[].clients.allow). */
  readonly clientAllow: ReadonlyMap<string, ReadonlySet<string>>;
  /** Which rules only report (enforcement). */
  readonly modes: ModeView;
}

export const accessView = perPolicy<AccessView>((c) => {
  const a = c.access;
  return Object.freeze({
    allowedGroups: new Set(a.allowedGroups),
    readOnlyGroups: new Set(a.readOnlyGroups),
    readSafePosts: a.readSafePosts.map(parsePathPattern),
    ipAllowlist: parseRanges(a.ipAllowlist),
    groupIpAllowlists: new Map(Object.entries(a.groupIpAllowlists).map(([g, l]) => [g, parseRanges(l)])),
    bypassSkipsIpAllowlist: a.bypassSkipsIpAllowlist,
    clientAllow: new Map(c.jwt.issuers.map((i) => [i.name, new Set(i.clients?.allow ?? [])])),
    modes: modeView(c),
  });
});

/** What authorize needs to know about the request (from RequestState). */
export interface AccessFacts {
  facts: Pick<RequestFacts, 'method' | 'rawTarget' | 'headers' | 'rawHeaders'>;
  route: RouteKind;
  canonicalPath: string;
  pathAltered: boolean;
  clientIp: string;
  /** Undefined means nothing was presented (anonymous). */
  credentialKind?: CredentialKind;
}

export interface AccessDecision {
  verdicts: Verdict[];
  refusal?: { code: ErrorCode; rule: string; detail: string };
  /** Denials of rules in report mode: not refused, recorded (issue 18). */
  wouldDeny?: WouldDeny[];
}

/** RFC 9110 §9.2.1 safe methods. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Headers that make frameworks (Jersey's PostReplaceFilter among them) run a POST as another method. */
const OVERRIDE_HEADERS = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);
const OVERRIDE_PARAM = '_method';
const OVERRIDE_LENGTHS = new Set([...OVERRIDE_HEADERS].map((h) => h.length));

/** The method-override header or parameter a request carries, if any ("_" spellings included: some proxies map them to "-"). */
export function findMethodOverride(facts: AccessFacts['facts']): string | undefined {
  const raw = facts.rawHeaders;
  const names = raw.length > 0 ? undefined : Object.keys(facts.headers);
  const count = names ? names.length : raw.length / 2;
  for (let i = 0; i < count; i++) {
    const n = names ? names[i]! : raw[2 * i]!;
    // Only names of an override header's length are normalised (no string built for the others).
    if (!OVERRIDE_LENGTHS.has(n.length)) continue;
    const norm = n.toLowerCase().replace(/_/g, '-');
    if (OVERRIDE_HEADERS.has(norm)) return `header ${n}`;
  }
  const q = facts.rawTarget.indexOf('?');
  if (q >= 0) {
    for (const part of facts.rawTarget.slice(q + 1).split(/[&;]/)) {
      const rawName = part.split('=')[0]!.replace(/\+/g, ' ');
      let name = rawName;
      try {
        name = decodeURIComponent(rawName);
      } catch {
        /* undecodable: compared raw */
      }
      if (name.trim().toLowerCase() === OVERRIDE_PARAM) return `query parameter ${OVERRIDE_PARAM}`;
    }
  }
  return undefined;
}

function contentTypeOf(facts: AccessFacts['facts']): string | undefined {
  const h = facts.headers['content-type'];
  return typeof h === 'string' ? h.split(';')[0]!.trim().toLowerCase() : undefined;
}

/**
 * Read access: a safe method, or POST to a readSafePosts path (clean spelling; JSON or no body,
 * as Jira's search takes), and never a method override. Returns why not, or undefined when allowed.
 */
function whyNotReadOnly(a: AccessFacts, view: AccessView): string | undefined {
  const override = findMethodOverride(a.facts);
  if (override) return `method override (${override}) is refused for read-only access`;
  const m = a.facts.method;
  if (SAFE_METHODS.has(m)) return undefined;
  if (m === 'POST') {
    const p = findPattern(view.readSafePosts, m, a.canonicalPath);
    if (!p) return `POST ${a.canonicalPath} is not in readSafePosts`;
    if (a.pathAltered) return `POST matches "${p.source}" only after dot-segments or ;parameters were resolved`;
    const ct = contentTypeOf(a.facts);
    if (ct !== undefined && ct !== 'application/json') return `read-safe POST needs application/json, got ${ct}`;
    return undefined;
  }
  return `${m} is not a read method`;
}

/** Per-token allow-lists come from the token store, not the config: parsed here, bad entries never match. */
function parseTokenRanges(list: readonly string[]): IpRange[] {
  const out: IpRange[] = [];
  for (const s of list) {
    try {
      out.push(parseRange(s));
    } catch {
      /* an unparsable entry cannot allow anything */
    }
  }
  return out;
}

const PASSTHROUGH_NOTE = 'no identity (credential passed to Jira as presented)';

/**
 * Decides access for one request. `identity` is undefined for passthrough kinds (PAT, OAuth 1.0a,
 * session, anonymous) and bypassed routes: then only lockdown and the IP allow-list apply.
 * Unprotected routes (and `enabled: false`, which route-rules turns into unprotected) skip everything.
 */
export function decideAccess(identity: Identity | undefined, a: AccessFacts, view: AccessView): AccessDecision {
  const verdicts: Verdict[] = [];
  let refusal: AccessDecision['refusal'];
  let wouldDeny: WouldDeny[] | undefined;
  const add = (rule: string, outcome: Verdict['outcome'], detail: string, code?: ErrorCode) => {
    const verdict: Verdict = { stage: 'authorize', rule, outcome, detail };
    if (code) verdict.code = code;
    verdicts.push(verdict);
    if (outcome === 'deny' && code && !refusal) refusal = { code, rule, detail };
  };
  /** A denial by `family` (entry): refused, or recorded when that rule only reports. */
  const deny = (rule: string, family: RuleFamily, entry: string | undefined, detail: string, code: ErrorCode) => {
    if (view.modes.modeOf(family, entry) === 'enforce') return add(rule, 'deny', detail, code);
    add(rule, 'report', `report only: ${detail}`, code);
    (wouldDeny ??= []).push({ code, stage: 'authorize', rule: entry === undefined ? family : `${family}:${entry}`, detail });
  };
  const done = (): AccessDecision => {
    const d: AccessDecision = { verdicts };
    if (refusal) d.refusal = refusal;
    if (wouldDeny) d.wouldDeny = wouldDeny;
    return d;
  };
  if (a.route === 'unprotected') {
    add('authorize', 'skip', 'unprotected route');
    return { verdicts };
  }

  // lockdown: where Jira would serve anonymous callers, the sidecar requires a credential.
  const kind = a.credentialKind ?? 'anonymous';
  if (a.route !== 'lockdown') add('lockdown', 'skip', `route is ${a.route}`);
  else if (kind === 'anonymous') deny('lockdown', 'lockdown', undefined, 'anonymous request on a locked-down path', 'lockdown');
  else add('lockdown', 'pass', `credential presented (${kind})`);

  // ip-allowlist: global, then each listed group of the identity, then the API token's own list.
  // Every applicable list must contain the address (each one narrows; none widens another).
  if (a.route === 'bypass' && view.bypassSkipsIpAllowlist) add('ip-allowlist', 'skip', 'bypass route (access.bypassSkipsIpAllowlist)');
  else {
    // [setting, entry of the ipAllowlist family, ranges]
    const lists: Array<[string, string, readonly IpRange[]]> = [];
    if (view.ipAllowlist.length) lists.push(['access.ipAllowlist', 'global', view.ipAllowlist]);
    for (const g of identity?.groups ?? []) {
      const l = view.groupIpAllowlists.get(g);
      if (l?.length) lists.push([`access.groupIpAllowlists.${g}`, g, l]);
    }
    if (identity?.ipAllowlist?.length) lists.push(['token ipAllowlist', 'token', parseTokenRanges(identity.ipAllowlist)]);
    if (lists.length === 0) add('ip-allowlist', 'skip', 'no allow-list applies');
    else {
      const ip = parseIp(a.clientIp);
      const misses = lists.filter(([, , l]) => !ip || !findRange(ip, l));
      const enforced = misses.find(([, entry]) => view.modes.modeOf('ipAllowlist', entry) === 'enforce');
      if (enforced) deny('ip-allowlist', 'ipAllowlist', enforced[1], `${a.clientIp} is not in ${enforced[0]}`, 'ip_not_allowed');
      else {
        // Every list that misses only reports: each is recorded, the request goes on.
        for (const [name, entry] of misses) deny('ip-allowlist', 'ipAllowlist', entry, `${a.clientIp} is not in ${name}`, 'ip_not_allowed');
        const held = lists.filter((l) => !misses.includes(l));
        if (held.length) add('ip-allowlist', 'pass', `${a.clientIp} in ${held.map(([n]) => n).join(' and ')}`);
      }
    }
  }

  if (!identity) {
    for (const rule of ['client-acl', 'allowed-groups', 'read-only', 'token-scope']) add(rule, 'skip', PASSTHROUGH_NOTE);
    return done();
  }

  // client-acl: an app-only token's client must be listed for its issuer (the JWT verifier checks
  // this too; kept here so the decision names the rule and a verifier slip cannot widen access).
  if (!identity.isServicePrincipal) add('client-acl', 'skip', 'not a service principal');
  else if (identity.source !== 'jwt') add('client-acl', 'skip', `service principal from ${identity.source}: no client ACL configured`);
  else {
    const allow = identity.issuer !== undefined ? view.clientAllow.get(identity.issuer) : undefined;
    if (identity.clientId !== undefined && allow?.has(identity.clientId)) add('client-acl', 'pass', `client ${identity.clientId} allowed for ${identity.issuer}`);
    else deny('client-acl', 'clientAcl', identity.issuer, `client ${identity.clientId ?? '(none)'} is not in jwt.issuers[${identity.issuer ?? '?'}].clients.allow`, 'client_not_allowed');
  }

  // allowed-groups: service principals are admitted by the client ACL above instead (app-only
  // tokens carry roles, not groups).
  if (view.allowedGroups.size === 0) add('allowed-groups', 'skip', 'access.allowedGroups is empty: any identity');
  else if (identity.isServicePrincipal) add('allowed-groups', 'skip', 'service principal: admitted by the client ACL');
  else {
    const g = identity.groups.find((x) => view.allowedGroups.has(x));
    if (g) add('allowed-groups', 'pass', `member of ${g}`);
    else deny('allowed-groups', 'allowedGroups', undefined, 'member of none of access.allowedGroups', 'group_not_allowed');
  }

  // read-only: membership of any read-only group makes the identity read-only, whatever else it is in.
  // With groups in report mode, an enforcing group the identity is in refuses; only-reporting ones record.
  const ros = identity.groups.filter((x) => view.readOnlyGroups.has(x));
  if (ros.length === 0) add('read-only', 'skip', 'not in access.readOnlyGroups');
  else {
    const why = whyNotReadOnly(a, view);
    if (!why) add('read-only', 'pass', `${ros[0]}: read request`);
    else {
      const enforcing = ros.find((g) => view.modes.modeOf('readOnlyGroups', g) === 'enforce');
      if (enforcing) deny('read-only', 'readOnlyGroups', enforcing, `${enforcing}: ${why}`, 'read_only');
      else for (const g of ros) deny('read-only', 'readOnlyGroups', g, `${g}: ${why}`, 'read_only');
    }
  }

  // token-scope: an API token's read/write access and path patterns.
  const scope = identity.scope;
  if (!scope) add('token-scope', 'skip', 'no token scope');
  else {
    const why = scope.access === 'read' ? whyNotReadOnly(a, view) : undefined;
    let pathWhy: string | undefined;
    if (scope.paths.length) {
      const patterns = scope.paths.flatMap((s) => {
        try {
          return [parsePathPattern(s)];
        } catch {
          return [];
        }
      });
      const p = findPattern(patterns, a.facts.method, a.canonicalPath);
      if (!p) pathWhy = `${a.canonicalPath} is outside the token's paths`;
      else if (a.pathAltered) pathWhy = `path matches "${p.source}" only after dot-segments or ;parameters were resolved`;
    }
    if (why) deny('token-scope', 'tokenScope', undefined, `read token: ${why}`, 'token_scope');
    else if (pathWhy) deny('token-scope', 'tokenScope', undefined, pathWhy, 'token_scope');
    else add('token-scope', 'pass', `${scope.access} token${scope.paths.length ? ' within its paths' : ''}`);
  }
  return done();
}
