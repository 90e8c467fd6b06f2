// validate(input) is pure: it collects every problem as { path, message } and never throws.
// The same function serves startup, `config validate FILE` and PUT /api/config.
import ipaddr from 'ipaddr.js';
import { configSchema, type Config } from './schema.js';

export interface ConfigIssue {
  path: string;
  message: string;
}
export type ValidationResult = { ok: true; config: Config } | { ok: false; issues: ConfigIssue[] };

/** ['jwt', 'issuers', 0, 'keys'] -> "jwt.issuers[0].keys" */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out || '(root)';
}

export function isValidCidr(value: string): boolean {
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}

function checkSemantics(c: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const cidrList = (list: string[], at: string) =>
    list.forEach((v, i) => {
      if (!isValidCidr(v)) issues.push({ path: `${at}[${i}]`, message: `"${v}" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)` });
    });
  cidrList(c.access.ipAllowlist, 'access.ipAllowlist');
  cidrList(c.access.trustedProxies, 'access.trustedProxies');
  for (const [g, list] of Object.entries(c.access.groupIpAllowlists)) cidrList(list, `access.groupIpAllowlists.${g}`);
  const names = new Set<string>();
  c.jwt.issuers.forEach((iss, i) => {
    const at = `jwt.issuers[${i}]`;
    if (names.has(iss.name)) issues.push({ path: `${at}.name`, message: `duplicate issuer name "${iss.name}"` });
    names.add(iss.name);
    if (iss.usernameRegex !== undefined) {
      try {
        const re = new RegExp(iss.usernameRegex);
        if (!/\((?!\?)/.test(re.source)) issues.push({ path: `${at}.usernameRegex`, message: 'needs a capture group: group 1 becomes the Jira username' });
      } catch (e) {
        issues.push({ path: `${at}.usernameRegex`, message: `not a valid regular expression: ${(e as Error).message}` });
      }
    }
    const templates = (Array.isArray(iss.issuer) ? iss.issuer : [iss.issuer]).some((s) => s.includes('{tenantid}'));
    if (templates && iss.allowedTenants.length === 0)
      issues.push({ path: `${at}.allowedTenants`, message: 'list the tenant IDs a "{tenantid}" issuer accepts' });
    if (iss.groupsOverage === 'jira' && !c.jiraGroupLookup.authorization)
      issues.push({ path: `${at}.groupsOverage`, message: '"jira" needs jiraGroupLookup.authorization (a Jira service credential)' });
  });
  if (c.server.port !== 0 && c.server.port === c.server.adminPort && c.server.host === c.server.adminHost)
    issues.push({ path: 'server.adminPort', message: 'the admin listener must not share the proxy port' });
  return issues;
}

export function validate(input: unknown): ValidationResult {
  const parsed = configSchema.safeParse(input ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })),
    };
  }
  const issues = checkSemantics(parsed.data);
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: parsed.data };
}
