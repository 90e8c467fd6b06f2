// validate(input) is pure: it collects every problem as { path, message } and never throws.
// The same function serves startup, `config validate FILE` and PUT /api/config.
import ipaddr from 'ipaddr.js';
import { configSchema, type Config } from './schema.js';
import { parsePathPattern } from '../pipeline/path-pattern.js';
import { canonicalisePath } from '../pipeline/route-rules/canonical.js';
import { sharedIss } from '../pipeline/verify/jwt/issuers.js';
import { readTlsFiles, type TlsFiles } from './tls-files.js';

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
  // ipaddr.js also accepts inet_aton shorthands ("10.0.0", "0x0a.1", "167772161"); an allow-list
  // entry must mean exactly what it looks like, so IPv4 must be four decimal parts.
  const addr = value.split('/')[0]!;
  if (!addr.includes(':') && !ipaddr.IPv4.isValidFourPartDecimal(addr)) return false;
  try {
    if (value.includes('/')) ipaddr.parseCIDR(value);
    else ipaddr.parse(value);
    return true;
  } catch {
    return false;
  }
}

// Loose accessors: semantic checks also run when the schema failed (on the raw input), so one run
// reports every bad field, not the schema's half first and the rest on the next try.
type Loose = Record<string, unknown> | undefined;
const obj = (v: unknown): Loose => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Checks zod cannot express per field: CIDR syntax, regexes, cross-field rules. Input may be invalid. */
function checkSemantics(input: unknown): ConfigIssue[] {
  const c = obj(input);
  const issues: ConfigIssue[] = [];
  const cidrList = (l: unknown, at: string) =>
    list(l).forEach((v, i) => {
      if (isStr(v) && !isValidCidr(v)) issues.push({ path: `${at}[${i}]`, message: `"${v}" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)` });
    });
  const access = obj(c?.access);
  cidrList(access?.ipAllowlist, 'access.ipAllowlist');
  cidrList(access?.trustedProxies, 'access.trustedProxies');
  for (const [g, l] of Object.entries(obj(access?.groupIpAllowlists) ?? {})) cidrList(l, `access.groupIpAllowlists.${g}`);
  // Path patterns are compiled the way request paths are canonicalised (Tomcat routing): one that
  // could never match safely is reported here rather than failing when the policy is compiled.
  const patternList = (l: unknown, at: string) =>
    list(l).forEach((v, i) => {
      if (!isStr(v)) return;
      try {
        parsePathPattern(v);
      } catch (e) {
        issues.push({ path: `${at}[${i}]`, message: (e as Error).message.replace(/^path pattern "[^"]*": /, '') });
      }
    });
  patternList(c?.bypass, 'bypass');
  patternList(obj(c?.publicApiLockdown)?.paths, 'publicApiLockdown.paths');
  patternList(access?.readSafePosts, 'access.readSafePosts');
  list(obj(c?.rateLimit)?.costs).forEach((e, i) => {
    const at = `rateLimit.costs[${i}]`;
    const path = obj(e)?.path;
    if (!isStr(path)) return;
    try {
      if (parsePathPattern(path).method !== undefined && obj(e)?.method !== undefined) issues.push({ path: `${at}.path`, message: 'name the method once: in "method" or in the pattern' });
    } catch (err) {
      issues.push({ path: `${at}.path`, message: (err as Error).message.replace(/^path pattern "[^"]*": /, '') });
    }
  });
  list(c?.protectedPaths).forEach((v, i) => {
    const cp = isStr(v) && v.startsWith('/') ? canonicalisePath(v) : undefined;
    if (cp && !cp.ok) issues.push({ path: `protectedPaths[${i}]`, message: `cannot be matched safely: ${cp.reason}` });
  });
  const names = new Set<string>();
  const lookupAuth = obj(c?.jiraGroupLookup)?.authorization;
  list(obj(c?.jwt)?.issuers).forEach((raw, i) => {
    const iss = obj(raw);
    if (!iss) return;
    const at = `jwt.issuers[${i}]`;
    if (isStr(iss.name)) {
      if (names.has(iss.name)) issues.push({ path: `${at}.name`, message: `duplicate issuer name "${iss.name}"` });
      names.add(iss.name);
    }
    if (isStr(iss.usernameRegex)) {
      try {
        const re = new RegExp(iss.usernameRegex);
        if (!/\((?!\?)/.test(re.source)) issues.push({ path: `${at}.usernameRegex`, message: 'needs a capture group: group 1 becomes the Jira username' });
      } catch (e) {
        // "Invalid regular expression: /(/: Unterminated group" -> "(unterminated group)": said once.
        const why = ((e as Error).message.split(': ').pop() ?? '').replace(/^./, (ch) => ch.toLowerCase());
        issues.push({ path: `${at}.usernameRegex`, message: `not a valid regular expression${why ? ` (${why})` : ''}` });
      }
    }
    const templates = (Array.isArray(iss.issuer) ? iss.issuer : [iss.issuer]).some((s) => isStr(s) && s.includes('{tenantid}'));
    if (templates && list(iss.allowedTenants).length === 0)
      issues.push({ path: `${at}.allowedTenants`, message: 'list the tenant IDs a "{tenantid}" issuer accepts' });
    if (iss.groupsOverage === 'jira' && !lookupAuth)
      issues.push({ path: `${at}.groupsOverage`, message: '"jira" needs jiraGroupLookup.authorization (a Jira service credential)' });
  });
  issues.push(...sharedIssIssues(list(obj(c?.jwt)?.issuers)));
  // A token's live identity is asked of Jira with the service credential: without one every token would be refused.
  if (obj(c?.apiTokens)?.groupsFrom === 'jira' && !lookupAuth)
    issues.push({ path: 'apiTokens.groupsFrom', message: '"jira" needs jiraGroupLookup.authorization (a Jira service credential); unset, it is "creation" without one' });
  // Identity-mode overrides are keyed by the name an identity carries as its issuer: a JWT issuer's
  // name, or "introspection" (introspection/verifier.ts). Any other key would never apply.
  const identityIssuers = [...names, 'introspection'];
  for (const key of Object.keys(obj(obj(obj(c?.upstream)?.identity)?.issuers) ?? {})) {
    if (identityIssuers.includes(key)) continue;
    const near = nearest(key, identityIssuers);
    issues.push({
      path: `upstream.identity.issuers.${key}`,
      message: near ? `no issuer named "${key}" (did you mean "${near}"?)` : `no issuer named "${key}": use a jwt.issuers[].name or "introspection"`,
    });
  }
  if (obj(c?.rateLimit)?.store === 'postgres' && obj(c?.store)?.kind !== 'postgres')
    issues.push({ path: 'rateLimit.store', message: '"postgres" counts in the store\'s database: set store.kind to postgres (or SIDECAR_DATABASE_URL)' });
  const server = obj(c?.server);
  const port = server?.port ?? 8090;
  const adminPort = server?.adminPort ?? 8091;
  if (port !== 0 && port === adminPort && (server?.host ?? '0.0.0.0') === (server?.adminHost ?? '127.0.0.1'))
    issues.push({ path: 'server.adminPort', message: 'the admin listener must not share the proxy port' });
  issues.push(...tlsIssues(server?.tls, 'server.tls'), ...tlsIssues(obj(c?.admin)?.tls, 'admin.tls'), ...tlsIssues(obj(c?.upstream)?.tls, 'upstream.tls'));
  const upstreamUrl = obj(c?.upstream)?.url;
  if (obj(obj(c?.upstream)?.tls) && isStr(upstreamUrl) && /^http:/i.test(upstreamUrl))
    issues.push({ path: 'upstream.tls', message: 'applies to an https:// Jira only: upstream.url is http:// (use https://, or remove upstream.tls)' });
  return issues;
}

/**
 * The PEM files of a tls block (server.tls, admin.tls, upstream.tls) must exist, be readable, hold
 * what their field says, and the key must belong to the certificate: a file problem is named at its
 * field at start, on reload and in the admin API, not when the listener or the first request fails.
 */
function tlsIssues(raw: unknown, at: string): ConfigIssue[] {
  const t = obj(raw);
  if (!t) return [];
  const files: TlsFiles = {};
  for (const f of ['certFile', 'keyFile', 'caFile'] as const) if (isStr(t[f]) && t[f] !== '') files[f] = t[f];
  if (t.minVersion === 'TLSv1.2' || t.minVersion === 'TLSv1.3') files.minVersion = t.minVersion;
  const r = readTlsFiles(files);
  return r.ok ? [] : r.issues.map((i) => ({ path: `${at}.${i.field}`, message: i.message }));
}

/** Settings people reach for to skip certificate checks: refused with why, not as a mere typo. */
function refusedKeyMessage(path: ReadonlyArray<PropertyKey>, key: string): string | undefined {
  if (path[path.length - 1] !== 'tls' || !/^(rejectUnauthorized|checkServerIdentity|insecure|insecureSkipVerify|verify|verifyHostname)$/i.test(key)) return undefined;
  return path[0] === 'upstream'
    ? "cannot be set: Jira's certificate chain and host name are always verified, so a man in the middle cannot read the identities and secrets sent to Jira. Trust a private CA with upstream.tls.caFile, and check the name on Jira's certificate with upstream.tls.servername"
    : 'cannot be set: client certificates are verified against caFile when requestClientCert is true, and there is no switch to accept unverified ones';
}

/**
 * Two issuers must not accept the same iss: pickIssuer would hand every such token to one of them
 * by list order (or exact value before template), silently. Compared as pickIssuer matches: exact
 * strings (no trailing-slash or case folding, RFC 7519 §4.1.1 / OIDC Core §3.1.3.7 compare iss
 * exactly), templates by the iss their allowed tenants make. Reported at the later entry.
 */
function sharedIssIssues(raw: unknown[]): ConfigIssue[] {
  const entries = raw.map((r, i) => {
    const e = obj(r);
    const values = Array.isArray(e?.issuer) ? e.issuer : [e?.issuer];
    return {
      label: isStr(e?.name) ? `issuer "${e.name}" (jwt.issuers[${i}])` : `jwt.issuers[${i}]`,
      values: values.map((v, k) => ({ value: v, path: `jwt.issuers[${i}].issuer${Array.isArray(e?.issuer) ? `[${k}]` : ''}` })),
      allowedTenants: list(e?.allowedTenants).filter(isStr),
    };
  });
  const issues: ConfigIssue[] = [];
  entries.forEach((later, j) => {
    for (const { value, path } of later.values) {
      if (!isStr(value)) continue;
      for (const first of entries.slice(0, j)) {
        const clash = first.values.map(({ value: v }) => {
          if (!isStr(v)) return undefined;
          if (v === '*' && value === '*') return `${first.label} already accepts any iss ("*"): only one issuer may`;
          const iss = sharedIss({ value: v, allowedTenants: first.allowedTenants }, { value, allowedTenants: later.allowedTenants });
          return iss === undefined ? undefined : `${first.label} already accepts iss "${iss}": a token's iss must select one issuer`;
        }).find((m) => m !== undefined);
        if (clash) {
          issues.push({ path, message: clash });
          break;
        }
      }
    }
  });
  return issues;
}

/** Setting names valid at a path of the schema (for "did you mean"), or [] when unknown. */
function keysAt(path: ReadonlyArray<PropertyKey>): string[] {
  // zod internals: unwrap default/prefault/optional/pipe wrappers down to an object shape.
  let s: any = configSchema;
  // A preprocess (rate-phrase.ts) is a pipe from a transform: its settings are those of its output.
  const unwrap = () => {
    for (let n = 0; n < 10 && s?.def && (s.def.innerType || s.def.in); n++) s = s.def.innerType ?? (s.def.in?.def?.type === 'transform' ? s.def.out : s.def.in);
  };
  for (const p of path) {
    unwrap();
    s = typeof p === 'number' ? s?.def?.element : (s?.shape?.[p] ?? s?.def?.valueType);
  }
  unwrap();
  return s?.shape ? Object.keys(s.shape) : [];
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The closest of `valid` to a misspelt `key` (at most two edits away), for "did you mean". */
function nearest(key: string, valid: readonly string[]): string | undefined {
  return valid.filter((v) => editDistance(key, v) <= 2).sort((a, b) => editDistance(key, a) - editDistance(key, b))[0];
}

/** One issue per unknown key, at the key's own path, with a spelling suggestion when one is close. */
function unknownKeyIssues(path: ReadonlyArray<PropertyKey>, keys: string[]): ConfigIssue[] {
  const valid = keysAt(path);
  return keys.map((k) => {
    const refused = refusedKeyMessage(path, k);
    if (refused) return { path: formatPath([...path, k]), message: refused };
    const near = nearest(k, valid);
    return { path: formatPath([...path, k]), message: near ? `unknown setting (did you mean "${near}"?)` : 'unknown setting' };
  });
}

// The offending value is never echoed: it may be a secret typed into the wrong field. Words a
// person editing the file or the admin UI uses: no "mapping", "record" or "object" (issue 22).
const kindOf = (v: unknown) =>
  v === null ? 'empty (null)' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a group of settings' : typeof v === 'boolean' ? 'true/false' : `a ${typeof v}`;
const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
  array: 'a list',
  object: 'a group of settings (name: value)',
  record: 'a group of "name: value" entries',
};

/**
 * Messages for zod's generic issues, phrased for someone editing a YAML file. Messages set on a
 * schema (e.g. the path-pattern hint) take precedence over this map, so they are kept as written.
 */
function friendlyMessage(iss: { code: string; input?: unknown; [k: string]: any }): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return `required (${TYPE_NAMES[iss.expected] ?? iss.expected})`;
      if (iss.expected === 'int' && typeof iss.input === 'number') return 'must be a whole number';
      return `must be ${TYPE_NAMES[iss.expected] ?? iss.expected}, not ${kindOf(iss.input)}`;
    case 'too_small':
      if (iss.origin === 'number') return `must be ${iss.inclusive ? 'at least' : 'more than'} ${iss.minimum}`;
      if (iss.origin === 'array') return `must list at least ${iss.minimum} item(s)`;
      if (iss.origin === 'string') return iss.minimum === 1 ? 'must not be empty' : `must be at least ${iss.minimum} characters`;
      return undefined;
    case 'too_big':
      if (iss.origin === 'number') return `must be ${iss.inclusive ? 'at most' : 'less than'} ${iss.maximum}`;
      if (iss.origin === 'array') return `must list at most ${iss.maximum} item(s)`;
      return undefined;
    case 'invalid_value':
      return Array.isArray(iss.values) ? `must be one of ${iss.values.map((v: unknown) => JSON.stringify(v)).join(', ')}` : undefined;
    default:
      return undefined;
  }
}

export function validate(input: unknown): ValidationResult {
  const parsed = configSchema.safeParse(input ?? {}, { error: friendlyMessage });
  if (!parsed.success) {
    const issues: ConfigIssue[] = parsed.error.issues.flatMap((i) =>
      i.code === 'unrecognized_keys' ? unknownKeyIssues(i.path, i.keys) : [{ path: formatPath(i.path), message: i.message }],
    );
    const seen = new Set(issues.map((i) => i.path));
    for (const extra of checkSemantics(input)) if (!seen.has(extra.path)) issues.push(extra);
    return { ok: false, issues };
  }
  const issues = checkSemantics(parsed.data);
  if (issues.length) return { ok: false, issues };
  return { ok: true, config: parsed.data };
}
