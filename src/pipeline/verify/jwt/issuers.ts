// The configured issuers compiled once per policy: exact iss values, {tenantid} templates (Entra
// multi-tenant apps) and the "*" wildcard of the SIDECAR_JWKS_URL shortcut. The issuer is picked
// by the token's unverified iss; the signature is then checked with THAT issuer's keys only, so a
// token cannot choose a more lenient issuer than the one it names.
import { perPolicy } from '../../../config/policy.js';
import type { IssuerConfig } from '../../../config/schema.js';

export interface CompiledIssuer {
  cfg: IssuerConfig;
  name: string;
  exact: Set<string>;
  /** Templates with "{tenantid}" as a capture group. */
  templates: RegExp[];
  /** issuer "*": iss is not checked (env shortcut without SIDECAR_ISSUER). */
  wildcard: boolean;
  /** undefined: aud is not checked (audiences ["*"], env shortcut without SIDECAR_AUDIENCE). */
  audiences?: string[];
  allowedTenants: Set<string>;
  usernameClaims: string[];
  usernameRegex?: RegExp;
  /** Identity of the key source (sources survive reloads when this is unchanged). */
  keySourceId: string;
}

export interface IssuerMatch {
  issuer: CompiledIssuer;
  /** The tenant captured by a {tenantid} template (lower-case). */
  tenant?: string;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TENANT_ID = '{tenantid}';
/** What a "{tenantid}" template captures; only allowed tenants (compared lower-cased) then match. */
const TENANT_CHARS = '[A-Za-z0-9-]{1,64}';

export function compileIssuer(cfg: IssuerConfig): CompiledIssuer {
  const list = Array.isArray(cfg.issuer) ? cfg.issuer : [cfg.issuer];
  const exact = new Set<string>();
  const templates: RegExp[] = [];
  let wildcard = false;
  for (const iss of list) {
    if (iss === '*') wildcard = true;
    else if (iss.includes(TENANT_ID)) templates.push(new RegExp(`^${escape(iss).replace(escape(TENANT_ID), `(${TENANT_CHARS})`)}$`));
    else exact.add(iss);
  }
  return {
    cfg,
    name: cfg.name,
    exact,
    templates,
    wildcard,
    audiences: cfg.audiences.includes('*') ? undefined : [...cfg.audiences],
    allowedTenants: new Set(cfg.allowedTenants.map((t) => t.toLowerCase())),
    usernameClaims: Array.isArray(cfg.usernameClaim) ? [...cfg.usernameClaim] : [cfg.usernameClaim],
    usernameRegex: cfg.usernameRegex !== undefined ? new RegExp(cfg.usernameRegex) : undefined,
    keySourceId: JSON.stringify({ keys: cfg.keys, keyCache: cfg.keyCache }),
  };
}

export const compiledIssuers = perPolicy((c) => c.jwt.issuers.map(compileIssuer));

/**
 * The issuer a token's iss names: an exact value first, then a template (its tenant must be allowed),
 * then a wildcard issuer. undefined -> issuer_unknown.
 */
export function pickIssuer(issuers: readonly CompiledIssuer[], iss: unknown): IssuerMatch | undefined {
  if (typeof iss === 'string') {
    for (const i of issuers) if (i.exact.has(iss)) return { issuer: i };
    for (const i of issuers) {
      for (const t of i.templates) {
        const m = t.exec(iss);
        if (m && i.allowedTenants.has(m[1]!.toLowerCase())) return { issuer: i, tenant: m[1]!.toLowerCase() };
      }
    }
  }
  return issuers.find((i) => i.wildcard) ? { issuer: issuers.find((i) => i.wildcard)! } : undefined;
}

/**
 * Every iss one configured value accepts, as its shapes: one string of accepted characters per
 * position. An exact value is one shape; a template is one shape per allowed tenant, any letter case
 * in the tenant part (pickIssuer lower-cases the captured tenant); "*" has none (it is the fallback).
 * The set is finite because a template only matches allowed tenants, so overlap is decidable.
 *   issShapes('https://x/{tenantid}/', ['Ab1']) -> [['h','t',…,'/', 'aA', 'bB', '1', '/']]
 */
function issShapes(value: string, allowedTenants: readonly string[]): string[][] {
  if (value === '*') return [];
  // Only the first "{tenantid}" is a capture group in compileIssuer (String#replace with a string).
  const at = value.indexOf(TENANT_ID);
  if (at < 0) return [value.split('')];
  const before = value.slice(0, at).split('');
  const after = value.slice(at + TENANT_ID.length).split('');
  const tenantRe = new RegExp(`^${TENANT_CHARS}$`);
  const tenants = new Set(allowedTenants.filter((t) => tenantRe.test(t)).map((t) => t.toLowerCase()));
  return [...tenants].map((t) => [...before, ...t.split('').map((c) => (c === c.toUpperCase() ? c : c + c.toUpperCase())), ...after]);
}

/**
 * An iss that configured value `a` (with its issuer's allowedTenants) and value `b` both accept, or
 * undefined when none exists. Two issuers sharing an iss make pickIssuer's choice depend on their
 * order (or on exact-before-template), so validation refuses it. "*" is the fallback and shares
 * nothing with a concrete value; two "*" are handled by the caller.
 *   sharedIss({value: 'https://x/{tenantid}/', allowedTenants: ['t1']}, {value: 'https://x/T1/', allowedTenants: []}) -> 'https://x/T1/'
 */
export function sharedIss(a: { value: string; allowedTenants: readonly string[] }, b: { value: string; allowedTenants: readonly string[] }): string | undefined {
  for (const sa of issShapes(a.value, a.allowedTenants))
    for (const sb of issShapes(b.value, b.allowedTenants)) {
      if (sa.length !== sb.length) continue;
      // Position by position, a character both accept (the shapes are the same length).
      const chars = sa.map((set, k) => set.split('').find((ch) => sb[k]!.includes(ch)));
      if (chars.every((c) => c !== undefined)) return chars.join('');
    }
  return undefined;
}
