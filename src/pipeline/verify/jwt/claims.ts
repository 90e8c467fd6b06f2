// Verified claims -> Identity (pure). Microsoft Entra ID specifics:
// - v1 tokens name the client in `appid`, v2 in `azp` (clients.claim picks which one the ACL reads);
// - app-only (client-credentials) tokens carry `idtyp: "app"` (optional claim) or, without it, `roles`
//   and no `scp`; they are service principals and act as the Jira account mapped to their client;
// - with more groups than fit, Entra omits `groups` and sets `_claim_names.groups` (JWT) or
//   `hasgroups: true` (implicit flow): the "groups overage" marker, resolved by the caller.
// Generic IdPs: a client-credentials token has sub equal to its client id (RFC 9068 §2.2).
import type { JWTPayload } from 'jose';
import type { ErrorCode } from '../../../errors.js';
import type { Identity } from '../../state.js';
import type { IssuerMatch } from './issuers.js';

export type ClaimsResult =
  | { ok: true; identity: Identity; overage: boolean }
  | { ok: false; code: ErrorCode; rule: string; detail: string; message?: string };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

function stringList(v: unknown): string[] {
  if (typeof v === 'string') return v ? [v] : [];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x.length > 0);
  return [];
}

/** Usernames go into a request header: no control characters (header injection), bounded length. */
const SAFE_USERNAME = /^[^\x00-\x1f\x7f]{1,255}$/;

export function isServicePrincipalToken(p: JWTPayload): boolean {
  if (p.idtyp === 'app') return true;
  if (p.idtyp === 'user') return false;
  if (str(p.tid) && p.scp === undefined && stringList(p.roles).length > 0) return true;
  if (p.gty === 'client-credentials') return true;
  const client = str(p.client_id) ?? str(p.azp) ?? str(p.appid);
  return client !== undefined && p.sub === client;
}

export function hasGroupsOverage(p: JWTPayload): boolean {
  const names = p._claim_names;
  if (names && typeof names === 'object' && 'groups' in (names as object)) return true;
  return p.hasgroups === true || p.hasgroups === 'true';
}

/**
 * `clientAclReport`: the issuer's client ACL is in report mode (enforcement.rules clientAcl): a client
 * outside clients.allow that has a clients.jiraAccounts entry is let through here, and authorize's
 * client-acl rule records what enforcing it would have answered.
 */
/** The issuer's client ACL: an app-only token's client must be in clients.allow (replay asks this too). */
export const clientAllowed = (cfg: IssuerMatch['issuer']['cfg'], aclClient: string | undefined): boolean =>
  !!cfg.clients && aclClient !== undefined && cfg.clients.allow.includes(aclClient);

export function identityFromClaims(p: JWTPayload, match: IssuerMatch, clientAclReport = false): ClaimsResult {
  const { issuer, tenant } = match;
  const cfg = issuer.cfg;
  const tid = str(p.tid)?.toLowerCase();
  if (tenant !== undefined && tid !== tenant) {
    return { ok: false, code: 'token_invalid', rule: 'tenant', detail: `iss names tenant ${tenant} but tid is ${tid ?? 'missing'}` };
  }
  if (issuer.allowedTenants.size > 0 && (tid === undefined || !issuer.allowedTenants.has(tid))) {
    return { ok: false, code: 'token_invalid', rule: 'tenant', detail: `tenant ${tid ?? '(none)'} is not in allowedTenants` };
  }
  const clientClaim = cfg.clients?.claim ?? 'azp';
  const aclClient = str(p[clientClaim]);
  const clientId = aclClient ?? str(p.azp) ?? str(p.appid) ?? str(p.client_id);
  const isServicePrincipal = isServicePrincipalToken(p);
  let username: string | undefined;
  if (isServicePrincipal) {
    const clients = cfg.clients;
    const reportable = clientAclReport && aclClient !== undefined && clients?.jiraAccounts[aclClient] !== undefined;
    if (!clientAllowed(cfg, aclClient) && !reportable) {
      return { ok: false, code: 'client_not_allowed', rule: 'client-acl', detail: `client ${clientId ?? '(none)'} (claim ${clientClaim}) is not in jwt.issuers[${cfg.name}].clients.allow` };
    }
    username = clients!.jiraAccounts[aclClient!];
    if (!username) {
      return { ok: false, code: 'client_not_allowed', rule: 'client-account', detail: `client ${aclClient!} has no clients.jiraAccounts entry` };
    }
  } else {
    let raw: string | undefined;
    let from = '';
    for (const c of issuer.usernameClaims) {
      raw = str(p[c]);
      if (raw !== undefined) {
        from = c;
        break;
      }
    }
    if (raw === undefined) {
      return { ok: false, code: 'username_missing', rule: 'usernameClaim', detail: `none of ${issuer.usernameClaims.join(', ')} present`, message: `The token has none of the claims ${issuer.usernameClaims.join(', ')}.` };
    }
    if (issuer.usernameRegex) {
      const m = issuer.usernameRegex.exec(raw);
      if (!m || !m[1]) {
        return { ok: false, code: 'username_missing', rule: 'usernameRegex', detail: `claim ${from} does not match usernameRegex`, message: `The ${from} claim does not match the configured username pattern.` };
      }
      raw = m[1];
    }
    username = raw;
  }
  if (!SAFE_USERNAME.test(username)) {
    return { ok: false, code: 'username_missing', rule: 'usernameClaim', detail: 'username has control characters or is longer than 255', message: 'The token names an unusable username.' };
  }
  const identity: Identity = {
    username,
    source: 'jwt',
    groups: stringList(p[cfg.groupsClaim]),
    roles: stringList(p[cfg.rolesClaim]),
    issuer: cfg.name,
    isServicePrincipal,
    claims: p as Record<string, unknown>,
  };
  if (clientId !== undefined) identity.clientId = clientId;
  if (typeof p.exp === 'number') identity.expiresAt = p.exp;
  return { ok: true, identity, overage: hasGroupsOverage(p) };
}
