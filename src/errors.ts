// The error catalogue: code -> status -> public message. The audit `reason` is the code itself.
// This Record is the only place a status is chosen; README's error table is kept equal by a test.

export type ErrorCode =
  | 'credential_missing'
  | 'credential_malformed'
  | 'token_expired'
  | 'token_invalid'
  | 'token_inactive'
  | 'token_revoked'
  | 'owner_inactive'
  | 'issuer_unknown'
  | 'credential_kind_denied'
  | 'username_missing'
  | 'groups_overage'
  | 'group_not_allowed'
  | 'read_only'
  | 'ip_not_allowed'
  | 'client_not_allowed'
  | 'lockdown'
  | 'token_scope'
  | 'rate_limited'
  | 'auth_unavailable'
  | 'audit_unavailable'
  | 'rate_limit_unavailable'
  | 'store_unavailable'
  | 'path_invalid'
  | 'header_too_large'
  | 'too_many_headers'
  | 'method_not_allowed'
  | 'expectation_failed'
  | 'upstream_unreachable'
  | 'upstream_timeout'
  | 'upstream_rejected_identity'
  | 'credential_not_mapped'
  | 'body_too_large'
  | 'config_invalid'
  | 'not_found'
  | 'bad_request'
  | 'admin_auth_required'
  | 'csrf_invalid'
  | 'login_failed'
  | 'login_throttled'
  | 'forbidden'
  | 'internal_error';

export interface CatalogueEntry {
  status: number;
  message: string;
}

export const catalogue: Record<ErrorCode, CatalogueEntry> = {
  credential_missing: { status: 401, message: 'A credential is required for this path.' },
  credential_malformed: { status: 401, message: 'The credential is malformed.' },
  token_expired: { status: 401, message: 'The token has expired.' },
  token_invalid: { status: 401, message: 'The token is invalid.' },
  token_inactive: { status: 401, message: 'The token is not active.' },
  token_revoked: { status: 401, message: 'The token has been revoked.' },
  owner_inactive: { status: 403, message: "The token's owner is inactive or unknown in Jira." },
  issuer_unknown: { status: 401, message: 'The token was issued by an issuer that is not trusted.' },
  credential_kind_denied: { status: 401, message: 'This kind of credential is not accepted.' },
  username_missing: { status: 401, message: 'The token does not name a user.' },
  groups_overage: { status: 401, message: 'The token does not carry its groups and group lookup is disabled.' },
  group_not_allowed: { status: 403, message: 'Your groups are not allowed to use this API.' },
  read_only: { status: 403, message: 'Your access is read-only.' },
  ip_not_allowed: { status: 403, message: 'Requests from your address are not allowed.' },
  client_not_allowed: { status: 403, message: 'This client application is not allowed.' },
  lockdown: { status: 403, message: 'This API requires authentication.' },
  token_scope: { status: 403, message: 'The API token does not grant access to this request.' },
  rate_limited: { status: 429, message: 'Too many requests.' },
  auth_unavailable: { status: 503, message: 'Authentication is temporarily unavailable.' },
  audit_unavailable: { status: 503, message: 'The audit log is temporarily unavailable.' },
  rate_limit_unavailable: { status: 503, message: 'Rate limiting is temporarily unavailable.' },
  store_unavailable: { status: 503, message: 'The sidecar store is temporarily unavailable.' },
  path_invalid: { status: 400, message: 'The request path cannot be handled safely.' },
  header_too_large: { status: 431, message: 'Request headers are too large.' },
  too_many_headers: { status: 431, message: 'The request has too many header fields.' },
  method_not_allowed: { status: 405, message: 'This method is not served here.' },
  expectation_failed: { status: 417, message: 'Only the expectation 100-continue is supported.' },
  upstream_unreachable: { status: 502, message: 'Jira could not be reached.' },
  upstream_timeout: { status: 504, message: 'Jira did not answer in time.' },
  upstream_rejected_identity: { status: 502, message: 'Jira rejected the identity the sidecar sent.' },
  credential_not_mapped: { status: 403, message: 'No Jira credential is configured for this caller.' },
  body_too_large: { status: 413, message: 'The request body is too large to be signed.' },
  config_invalid: { status: 400, message: 'The configuration is invalid.' },
  not_found: { status: 404, message: 'Not found.' },
  bad_request: { status: 400, message: 'The request is invalid.' },
  admin_auth_required: { status: 401, message: 'Admin authentication is required.' },
  csrf_invalid: { status: 403, message: 'The CSRF token is missing or wrong.' },
  login_failed: { status: 401, message: 'Wrong username or password.' },
  login_throttled: { status: 429, message: 'Too many failed logins; try again later.' },
  forbidden: { status: 403, message: 'Not allowed.' },
  internal_error: { status: 500, message: 'Internal error.' },
};

export const errorCodes = Object.keys(catalogue) as ErrorCode[];

export interface SidecarErrorOptions {
  /** Private detail for logs and audit, never sent to the client. */
  detail?: string;
  /** Public message override (e.g. the exact reason a username is missing). */
  message?: string;
  /** The rule that refused (audit + /api/test explanation). */
  rule?: string;
  headers?: Record<string, string>;
  issues?: Array<{ path: string; message: string }>;
  cause?: unknown;
}

/**
 * A refusal with its stable code. Refusals are control flow, not bugs: they carry no stack trace
 * (capturing one per refused request is measurable CPU under a flood of forged tokens, and no log
 * or test reads it). `internal_error` keeps its stack, and `cause` is kept either way.
 */
export class SidecarError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail?: string;
  readonly rule?: string;
  readonly headers: Record<string, string>;
  readonly issues?: Array<{ path: string; message: string }>;
  constructor(code: ErrorCode, opts: SidecarErrorOptions = {}) {
    const message = opts.message ?? catalogue[code].message;
    const stackTraceLimit = Error.stackTraceLimit;
    if (code !== 'internal_error') Error.stackTraceLimit = 0;
    try {
      super(message, { cause: opts.cause });
    } finally {
      Error.stackTraceLimit = stackTraceLimit;
    }
    this.code = code;
    this.status = catalogue[code].status;
    this.detail = opts.detail;
    this.rule = opts.rule;
    this.headers = opts.headers ?? {};
    this.issues = opts.issues;
  }
}
export class AuthenticationError extends SidecarError {}
export class AccessDeniedError extends SidecarError {}
export class RateLimitedError extends SidecarError {}
export class AuthUnavailableError extends SidecarError {}
export class UpstreamError extends SidecarError {}
export class ConfigError extends SidecarError {}

const quote = (s: string) => s.replace(/[\\"]/g, '\\$&').replace(/[^\x20-\x7e]/g, '?');
/** The catalogue's messages quoted once: a refusal under attack does not run two regexes for its header. */
const quotedMessages = new Map(Object.values(catalogue).map((c) => [c.message, quote(c.message)]));

/** Any thrown value -> status, headers and the public JSON body. Non-SidecarErrors become 500 internal_error. */
/**
 * Jira's own error shape beside ours (issue 26): Jira answers `{"errorMessages": ["…"], "errors": {}}`
 * and its clients (jira.js, Python jira, go-jira, IDE plugins) print `errorMessages`. One string
 * naming the message, the code and the request id, so a client's error output is enough to find the row.
 */
export function jiraErrorFields(code: string, message: string, requestId: string): { errorMessages: string[]; errors: Record<string, string> } {
  return { errorMessages: [`${message} (${code}, request ${requestId})`], errors: {} };
}

/** The proxy listener's refusal body: our fields and Jira's (jiraErrorFields). */
export const proxyErrorBody = (code: string, message: string, requestId: string): Record<string, unknown> => ({ error: code, message, requestId, ...jiraErrorFields(code, message, requestId) });

export function toErrorResponse(err: unknown, requestId: string, opts: { jira?: boolean } = {}): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const e = err instanceof SidecarError ? err : new SidecarError('internal_error');
  const headers: Record<string, string> = { ...e.headers };
  if (e.status === 401 && !headers['WWW-Authenticate'] && catalogue[e.code].status === 401 && !e.code.startsWith('admin') && e.code !== 'login_failed') {
    const desc = e.code === 'credential_missing' ? '' : `, error_description="${quotedMessages.get(e.message) ?? quote(e.message)}"`;
    headers['WWW-Authenticate'] = e.code === 'credential_missing' ? 'Bearer realm="jira"' : `Bearer realm="jira", error="invalid_token"${desc}`;
  }
  const body: Record<string, unknown> = opts.jira ? proxyErrorBody(e.code, e.message, requestId) : { error: e.code, message: e.message, requestId };
  if (e.issues) {
    body.issues = e.issues;
    // Jira names field problems in `errors` (field -> message).
    if (opts.jira) body.errors = Object.fromEntries(e.issues.map((i) => [i.path, i.message]));
  }
  return { status: e.status, headers, body };
}
