// Self-service API tokens on the proxy listener (contract section 5):
//   POST   /_sidecar/tokens       {name, access?|readOnly?, paths?, ipAllowlist?, days?} -> 201 + the secret, once
//   GET    /_sidecar/tokens       the caller's own tokens (never a secret or hash)
//   GET    /_sidecar/tokens/:id   one of them
//   DELETE /_sidecar/tokens/:id   revoke one of them
//   POST   /_sidecar/tokens/:id/rotate {overlapHours?}  a new secret with the same grants, once; the old
//                                 one keeps working for the overlap (default 0: refused at once)
// Requests and approval (apiTokens.approval, issue 19): when an admin must approve the caller's token,
// POST /_sidecar/tokens {…, justification} answers 202 with a pending request instead of a secret;
//   GET    /_sidecar/tokens/requests[/:id]   the caller's own requests (a denial carries the admin's comment)
//   POST   /_sidecar/tokens/requests/:id/claim  an approved one: mints the token, 201 + the secret, once;
//                                 a claimed (or pending, denied, withdrawn) request answers 404
//   DELETE /_sidecar/tokens/requests/:id  withdraws a pending one
// The caller proves who they are with a JWT through the very stages the proxy runs (client-ip,
// credentials, verify, authorize, rate-limit), so every issuer rule, the IP allow-list, allowedGroups
// and the caller's rate limit apply.
// An API token cannot mint or manage tokens (a leaked token must not be able to extend itself), and
// only members of apiTokens.creatorGroups may use this at all.
import type { Middleware } from 'koa';
import { z } from 'zod';
import { SidecarError } from '../../../errors.js';
import type { AuditRecord } from '../../audit/sink.js';
import type { AdminAction } from '../../../audit/record-admin.js';
import type { Deps } from '../../deps.js';
import { decisionStages } from '../../index.js';
import type { RequestState, StageName } from '../../state.js';
import { runStep, type Step } from '../../step.js';
import { describeToken, tokenAuditSummary, TokenInputError, type ApiTokens } from '../../../api-tokens/api-tokens.js';
import { outcomeOf, toAuditRecord, type Outcome } from '../../outcome.js';
import { approvalRequired, describeTokenRequest, MAX_PENDING_REQUESTS_PER_OWNER, TokenRequests, tokenRequestAuditSummary } from '../../../api-tokens/token-requests.js';
import type { TokenRequestStore } from '../../../store/token-request-store.js';
import type { Config } from '../../../config/schema.js';
import type { TokenRequestList, TokenRequestView } from '../../../admin/wire.js';

export const SELF_SERVICE_BASE = '/_sidecar/tokens';
// The proxy's own stages, route-rules aside (this path is not under protectedPaths, yet always guarded).
const AUTH_STAGES: ReadonlySet<StageName> = new Set(['client-ip', 'credentials', 'verify', 'authorize', 'rate-limit']);
/** apiTokens.maxPerUser's default: a user cannot pile up live tokens without bound (each is a standing credential to review). */
export const MAX_ACTIVE_TOKENS_PER_OWNER = 100;
const MAX_BODY_BYTES = 16 * 1024;

// Users pick name, scope and a shorter lifetime; no rate-limit override (that is an admin decision)
// and no groups (the token gets the caller's own groups from their JWT).
const createBody = z.strictObject({
  name: z.string(),
  access: z.enum(['read', 'write']).optional(),
  readOnly: z.boolean().optional(),
  paths: z.array(z.string()).optional(),
  ipAllowlist: z.array(z.string()).optional(),
  days: z.number().positive().optional(),
  /** Why the token is needed: required when an admin must approve it (apiTokens.approval), else ignored. */
  justification: z.string().optional(),
});

const rotateBody = z.strictObject({ overlapHours: z.number().min(0).max(720).optional() });

async function readJson(ctx: Parameters<Middleware>[0]): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of ctx.req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY_BYTES) throw new SidecarError('bad_request', { message: `The body must be at most ${MAX_BODY_BYTES} bytes.`, rule: 'self-service:body' });
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text || '{}');
  } catch {
    throw new SidecarError('bad_request', { message: 'The body must be a JSON object.', rule: 'self-service:body' });
  }
}

/** Proxy-listener route for /_sidecar/tokens; everything else goes on to the pipeline. */
export function selfServiceTokens(d: Deps, store: ApiTokens, requestStore: TokenRequestStore): Middleware {
  const requests = new TokenRequests(requestStore, store, { clock: d.clock });
  // Built on first use: other services (limiter, verifiers) may register after this route does.
  let steps: Step[] | undefined;
  const authSteps = () => (steps ??= decisionStages(d).filter((s) => AUTH_STAGES.has(s.name)));

  async function authenticate(st: RequestState, creatorGroups: string[]) {
    for (const step of authSteps()) {
      // Managing tokens is not a write to Jira, so authorize judges the call as a read: members of
      // access.readOnlyGroups may mint tokens too, and those carry their groups, so stay read-only.
      const judged = step.name === 'authorize' ? { ...st, facts: { ...st.facts, method: 'GET' } } : st;
      try {
        await runStep(step, judged, 'proxy');
      } finally {
        st.refusal ??= judged.refusal;
      }
    }
    const id = st.identity;
    if (!id || id.source !== 'jwt') {
      if (id?.source === 'api-token') {
        throw new SidecarError('forbidden', { rule: 'self-service:jwt-required', message: 'API tokens cannot manage API tokens; use your JWT.' });
      }
      if (!st.credential || st.credential.kind === 'anonymous') throw new SidecarError('credential_missing', { rule: 'self-service:jwt-required' });
      throw new SidecarError('credential_kind_denied', { rule: 'self-service:jwt-required', message: 'Managing API tokens requires a JWT.' });
    }
    if (!id.groups.some((g) => creatorGroups.includes(g))) {
      throw new SidecarError('forbidden', { rule: 'apiTokens.creatorGroups', message: 'You are not allowed to create API tokens.', detail: `${id.username} is in none of apiTokens.creatorGroups` });
    }
    return id;
  }

  type Caller = Awaited<ReturnType<typeof authenticate>>;
  type View = (r: Parameters<typeof describeToken>[0]) => ReturnType<typeof describeToken>;

  async function checkTokenCount(owner: string, cfg: Config['apiTokens'], view: View) {
    const active = (await store.list({ owner })).filter((t) => view(t).status === 'active').length;
    if (active >= cfg.maxPerUser) {
      throw new SidecarError('bad_request', { rule: 'self-service:token-count', message: `You already have ${active} active API tokens; revoke some first.` });
    }
  }

  // POST /_sidecar/tokens when an admin must approve first: a pending request (202), no secret.
  async function requestToken(ctx: Parameters<Middleware>[0], st: RequestState, caller: Caller, b: z.infer<typeof createBody> & { access: 'read' | 'write' }) {
    const pending = (await requests.list({ owner: caller.username, status: 'pending' })).length;
    if (pending >= MAX_PENDING_REQUESTS_PER_OWNER) {
      throw new SidecarError('bad_request', { rule: 'self-service:request-count', message: `You already have ${pending} pending token requests; withdraw some or wait for a decision.` });
    }
    let rec;
    try {
      rec = await requests.request({ owner: caller.username, name: b.name, access: b.access, paths: b.paths, ipAllowlist: b.ipAllowlist, days: b.days, justification: b.justification ?? '', groups: caller.groups });
    } catch (e) {
      if (e instanceof TokenInputError) {
        const message = e.field === 'justification' ? `justification: ${e.reason} (an admin approves this token; say why you need it)` : e.message;
        throw new SidecarError('bad_request', { rule: 'self-service:body', message, issues: [{ path: e.field, message: e.reason }] });
      }
      throw e;
    }
    try {
      await recordTokenAction(d, rec.id, () => ({ actor: `self-service:${caller.username}`, action: 'token_request.create', target: rec.id, after: tokenRequestAuditSummary(rec) }));
    } catch (e) {
      await requests.withdraw(rec.id, caller.username); // no unaudited request waits for an admin
      throw e;
    }
    d.logger.info({ requestId: st.requestId, tokenRequestId: rec.id, owner: caller.username }, 'api token requested (self-service, awaiting approval)');
    ctx.status = 202;
    ctx.set('Location', `${SELF_SERVICE_BASE}/requests/${rec.id}`);
    ctx.body = describeTokenRequest(rec) satisfies TokenRequestView;
  }

  // /_sidecar/tokens/requests[/:id[/claim]]: the caller's own requests only; the token id minted, if any.
  async function requestRoute(ctx: Parameters<Middleware>[0], st: RequestState, caller: Caller, cfg: Config['apiTokens'], view: View, id: string | undefined, claim: boolean): Promise<string | null> {
    const actor = `self-service:${caller.username}`;
    if (id === undefined) {
      ctx.body = { requests: (await requests.list({ owner: caller.username })).map(describeTokenRequest) } satisfies TokenRequestList;
      return null;
    }
    // Someone else's id answers exactly like an unknown one: ids are not an oracle.
    const own = await requests.get(id);
    if (!own || own.owner !== caller.username) throw new SidecarError('not_found', { rule: 'self-service:own-requests' });
    if (claim) {
      // Claimed once: a second claim (or one on a request not approved) finds nothing to hand out, 404.
      if (own.status !== 'approved') throw new SidecarError('not_found', { rule: 'self-service:claim', message: `No approved request to claim: this one is ${own.status}.` });
      await checkTokenCount(caller.username, cfg, view);
      let claimed;
      try {
        claimed = await requests.claim(own.id, { owner: caller.username, groups: caller.groups, createdBy: actor }, cfg);
      } catch (e) {
        if (e instanceof TokenInputError) throw new SidecarError('bad_request', { rule: 'self-service:claim', message: e.message, issues: [{ path: e.field, message: e.reason }] });
        throw e;
      }
      if (!claimed) throw new SidecarError('not_found', { rule: 'self-service:claim', message: 'No approved request to claim: this one was claimed already.' });
      const { created, request } = claimed;
      const v = view(created.record);
      // The admin who approved is on this row too, and the new token id ("newId", as rotation rows have it:
      // a key naming a token would be masked).
      await recordTokenAction(
        d,
        created.id,
        () => ({ actor, action: 'token_request.claim', target: request.id, after: { ...tokenAuditSummary(v), newId: created.id, approvedBy: request.decidedBy ?? null } }),
        store,
      );
      d.logger.info({ requestId: st.requestId, tokenId: created.id, tokenRequestId: request.id, owner: caller.username, capped: created.capped }, 'api token created from an approved request (self-service)');
      ctx.status = 201;
      ctx.body = {
        ...v,
        token: created.token,
        request: describeTokenRequest(request) satisfies TokenRequestView,
        ...(created.capped ? { notice: `expiry capped at apiTokens.maxLifetimeDays (${cfg.maxLifetimeDays})` } : {}),
      };
      return created.id;
    }
    if (ctx.method === 'DELETE') {
      const withdrawn = await requests.withdraw(own.id, caller.username);
      if (!withdrawn) throw new SidecarError('not_found', { rule: 'self-service:withdraw', message: `No pending request to withdraw: this one is ${own.status}.` });
      await recordTokenAction(d, own.id, () => ({ actor, action: 'token_request.withdraw', target: own.id, after: { owner: own.owner, name: own.name } }));
      d.logger.info({ requestId: st.requestId, tokenRequestId: own.id, owner: caller.username }, 'api token request withdrawn (self-service)');
      ctx.body = describeTokenRequest(withdrawn) satisfies TokenRequestView;
      return null;
    }
    ctx.body = describeTokenRequest(own) satisfies TokenRequestView;
    return own.tokenId ?? null;
  }

  // Every proxied request passes here: an origin-form target that cannot be ours goes on without
  // parsing, and without an async frame of its own (one promise less per request).
  return function sidecarTokens(ctx, next) {
    const target = ctx.req.url ?? '';
    if (target.startsWith('/') && !target.startsWith(SELF_SERVICE_BASE)) return next();
    return handle(ctx, next);
  };

  async function handle(ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<unknown> {
    const path = ctx.path;
    if (path !== SELF_SERVICE_BASE && !path.startsWith(`${SELF_SERVICE_BASE}/`)) return next();
    const st = ctx.state as RequestState;
    const started = d.clock.now();
    let tokenId: string | null = null;
    let error: unknown;
    ctx.set('Cache-Control', 'no-store');
    try {
      const all = path.slice(SELF_SERVICE_BASE.length + 1).split('/');
      // /requests[/:id[/claim]]: token requests. Token ids start with "tok_", so "requests" is never one.
      const onRequests = all[0] === 'requests';
      const parts = onRequests ? all.slice(1) : all;
      const action = onRequests ? 'claim' : 'rotate';
      const rotate = !onRequests && parts.length === 2 && parts[1] === action;
      const claim = onRequests && parts.length === 2 && parts[1] === action;
      if (parts.length > 2 || (parts.length === 2 && parts[1] !== action)) throw new SidecarError('not_found', { rule: 'self-service:route' });
      // Token ids are "tok_" + base64url, request ids "req_" + base64url: nothing to percent-decode,
      // and anything else is simply unknown.
      const id = parts[0] === '' || parts[0] === undefined ? undefined : parts[0];
      if ((rotate || claim) && id === undefined) throw new SidecarError('not_found', { rule: 'self-service:route' });
      const allowed = rotate || claim ? ['POST'] : id !== undefined ? ['GET', 'DELETE'] : onRequests ? ['GET'] : ['GET', 'POST'];
      if (!allowed.includes(ctx.method)) {
        throw new SidecarError('bad_request', { rule: 'self-service:method', message: `Use ${allowed.join(' or ')} here.`, headers: { Allow: allowed.join(', ') } });
      }
      const cfg = st.policy.config.apiTokens;
      if (!cfg.enabled) throw new SidecarError('not_found', { rule: 'apiTokens.enabled', detail: 'API tokens are disabled' });
      // Not under protectedPaths, yet always authenticated: judged as a guarded route.
      st.route = 'guarded';
      st.canonicalPath = path;
      const caller = await authenticate(st, cfg.creatorGroups);
      const now = d.clock.now();
      const view = (r: Parameters<typeof describeToken>[0]) => describeToken(r, now, cfg.maxLifetimeDays);

      if (onRequests) {
        tokenId = await requestRoute(ctx, st, caller, cfg, view, id, claim);
        return;
      }
      if (rotate) {
        const parsed = rotateBody.safeParse(await readJson(ctx));
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
          throw new SidecarError('bad_request', { rule: 'self-service:body', message: 'The body is not a valid rotation.', issues });
        }
        let rotated;
        try {
          rotated = await store.rotate(id!, { overlapMs: (parsed.data.overlapHours ?? 0) * 3_600_000, createdBy: `self-service:${caller.username}`, owner: caller.username }, cfg);
        } catch (e) {
          if (e instanceof TokenInputError) throw new SidecarError('bad_request', { rule: 'self-service:body', message: e.message, issues: [{ path: 'overlapHours', message: e.reason }] });
          throw e;
        }
        // Someone else's id, a revoked or an expired one: all answer as unknown.
        if (!rotated) throw new SidecarError('not_found', { rule: 'self-service:own-tokens' });
        tokenId = rotated.id;
        const v = view(rotated.record);
        await recordTokenAction(d, rotated.id, () => ({ actor: `self-service:${caller.username}`, action: 'token.rotate', target: rotated.old.id, after: { ...tokenAuditSummary(v), newId: rotated.id, oldExpires: new Date(rotated.old.expiresAt).toISOString() } }), store);
        d.logger.info({ requestId: st.requestId, tokenId, rotatedFrom: rotated.old.id, owner: caller.username }, 'api token rotated (self-service)');
        ctx.status = 201;
        ctx.body = { ...v, token: rotated.token, rotatedFrom: view(rotated.old) };
        return;
      }
      if (ctx.method === 'POST') {
        const parsed = createBody.safeParse(await readJson(ctx));
        if (!parsed.success) {
          const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
          throw new SidecarError('bad_request', { rule: 'self-service:body', message: 'The body is not a valid token request.', issues });
        }
        const b = parsed.data;
        await checkTokenCount(caller.username, cfg, view);
        const access = b.access ?? (b.readOnly ? 'read' : 'write');
        if (approvalRequired(cfg, access, caller.groups)) {
          await requestToken(ctx, st, caller, { ...b, access });
          return;
        }
        let created;
        try {
          created = await store.create(
            {
              owner: caller.username,
              name: b.name,
              access,
              paths: b.paths,
              ipAllowlist: b.ipAllowlist,
              groups: caller.groups,
              days: b.days,
              createdBy: `self-service:${caller.username}`,
            },
            cfg,
          );
        } catch (e) {
          if (e instanceof TokenInputError) throw new SidecarError('bad_request', { rule: 'self-service:body', message: e.message, issues: [{ path: e.field, message: e.reason }] });
          throw e;
        }
        tokenId = created.id;
        const v = view(created.record);
        await recordTokenAction(d, created.id, () => ({ actor: `self-service:${caller.username}`, action: 'token.create', target: created.id, after: tokenAuditSummary(v) }), store);
        d.logger.info({ requestId: st.requestId, tokenId, owner: caller.username, capped: created.capped }, 'api token created (self-service)');
        ctx.status = 201;
        ctx.body = { ...v, token: created.token, ...(created.capped ? { notice: `expiry capped at apiTokens.maxLifetimeDays (${cfg.maxLifetimeDays})` } : {}) };
        return;
      }
      if (id === undefined) {
        ctx.body = { tokens: (await store.list({ owner: caller.username })).map(view) };
        return;
      }
      // Someone else's id answers exactly like an unknown one: ids are not an oracle.
      const own = await store.get(id);
      if (!own || own.owner !== caller.username) throw new SidecarError('not_found', { rule: 'self-service:own-tokens' });
      tokenId = own.id;
      if (ctx.method === 'DELETE') {
        const revoked = (await store.revoke(own.id, { owner: caller.username }))!;
        await recordTokenAction(d, own.id, () => ({ actor: `self-service:${caller.username}`, action: 'token.revoke', target: own.id, after: { owner: own.owner, name: own.name } }));
        d.logger.info({ requestId: st.requestId, tokenId, owner: caller.username }, 'api token revoked (self-service)');
        ctx.body = view(revoked);
        return;
      }
      ctx.body = view(own);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      auditRow(d, st, { method: ctx.method, path, started, tokenId, error, status: ctx.status });
    }
  }
}

/**
 * Token lifecycle on the admin audit chain, as the CLI and the admin API record it. A mint whose
 * record cannot be stored is undone (revoked) and the call fails: no unaudited credential goes out.
 */
async function recordTokenAction(d: Deps, id: string, action: () => AdminAction, undoCreate?: ApiTokens): Promise<void> {
  const audit = d.services.audit;
  if (!audit) return; // audit disabled / not installed (unit setups)
  try {
    await audit.recordAdminAction(action());
  } catch (e) {
    await undoCreate?.revoke(id);
    throw new SidecarError('audit_unavailable', { rule: 'self-service:audit', detail: (e as Error).message, cause: e });
  }
}

/** One audit row per self-service call (the audit stage runs after this route, so it would not see it). */
function auditRow(
  d: Deps,
  st: RequestState,
  call: { method: string; path: string; started: number; tokenId: string | null; error: unknown; status: number },
) {
  const refused = call.error instanceof SidecarError ? call.error : undefined;
  // A refusal thrown by the route itself (not only by a stage) is a deny, not an error.
  const outcome: Outcome = refused ? { decision: 'deny', code: refused.code, status: refused.status } : outcomeOf(st, call.error, call.status);
  const now = d.clock.now();
  const record: AuditRecord = {
    ...toAuditRecord(st, outcome, now),
    time: call.started,
    latencyMs: now - call.started,
    method: call.method,
    path: call.path,
    tokenId: call.tokenId ?? st.identity?.tokenId ?? null,
    upstreamStatus: null,
    stage: refused ? (st.refusal?.stage ?? null) : null,
    rule: refused?.rule ?? null,
  };
  try {
    d.auditSink.write(record);
  } catch (e) {
    d.logger.warn({ err: e, requestId: st.requestId }, 'self-service audit row not written');
  }
}
