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

export function compileIssuer(cfg: IssuerConfig): CompiledIssuer {
  const list = Array.isArray(cfg.issuer) ? cfg.issuer : [cfg.issuer];
  const exact = new Set<string>();
  const templates: RegExp[] = [];
  let wildcard = false;
  for (const iss of list) {
    if (iss === '*') wildcard = true;
    else if (iss.includes('{tenantid}')) templates.push(new RegExp(`^${escape(iss).replace(escape('{tenantid}'), '([A-Za-z0-9-]{1,64})')}$`));
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
