// API-token requests, the admin's side (apiTokens.approval, issue 19):
//   GET  /api/token-requests?status=pending&owner=U   newest first (no status: every request)
//   POST /api/token-requests/:id/approve {comment?}   the owner may then claim the token (self-service)
//   POST /api/token-requests/:id/deny    {comment}    a reason is required: the requester sees it
// A request is decided once: of two admins deciding at once (on two replicas), the second answers
// 404 with what became of it. No secret passes here: the token is minted when its owner claims it.
import type Router from '@koa/router';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { TokenInputError } from '../api-tokens/api-tokens.js';
import { describeTokenRequest, TOKEN_REQUEST_STATUSES, TokenRequests, tokenRequestAuditSummary, type TokenRequestStatus } from '../api-tokens/token-requests.js';
import '../pipeline/verify/api-token/services.js';
import { principal } from './auth.js';
import { fieldError, readJson } from './http-util.js';
import { recordAdminAction } from './activity.js';
import type { TokenRequestDecisionBody, TokenRequestList, TokenRequestView } from './wire.js';

function requestsOf(rt: Runtime): TokenRequests {
  const tokens = rt.deps.services.apiTokens;
  if (!tokens) throw new SidecarError('internal_error', { detail: 'token store not installed' });
  return new TokenRequests(rt.stores.tokenRequests, tokens, { clock: rt.deps.clock });
}

/** The decision body as the wire types it: {comment?: string}. */
function decisionBody(body: Record<string, unknown>): TokenRequestDecisionBody {
  const c = body.comment;
  if (c !== undefined && c !== null && typeof c !== 'string') throw fieldError('comment', 'must be a string');
  return typeof c === 'string' ? { comment: c } : {};
}

export function registerTokenRequestRoutes(router: Router, rt: Runtime): void {
  router.get('/api/token-requests', async (ctx) => {
    const status = typeof ctx.query.status === 'string' && ctx.query.status ? ctx.query.status : undefined;
    const owner = typeof ctx.query.owner === 'string' && ctx.query.owner ? ctx.query.owner : undefined;
    if (status !== undefined && !TOKEN_REQUEST_STATUSES.includes(status as TokenRequestStatus)) throw fieldError('status', `must be one of ${TOKEN_REQUEST_STATUSES.join(', ')}`);
    const list = await requestsOf(rt).list({ ...(owner ? { owner } : {}), ...(status ? { status: status as TokenRequestStatus } : {}) });
    ctx.body = { requests: list.map(describeTokenRequest) } satisfies TokenRequestList;
  });

  for (const [verb, status] of [
    ['approve', 'approved'],
    ['deny', 'denied'],
  ] as const) {
    router.post(`/api/token-requests/:id/${verb}`, async (ctx) => {
      const body = decisionBody(await readJson(ctx));
      const actor = principal(ctx).username;
      let result;
      try {
        result = await requestsOf(rt).decide(ctx.params.id!, { status, by: actor, ...body });
      } catch (e) {
        if (e instanceof TokenInputError) throw fieldError(e.field, status === 'denied' && e.reason === 'is required' ? 'is required to deny (the requester sees it)' : e.reason);
        throw e;
      }
      if (!result) throw new SidecarError('not_found', { message: 'No token request with this id.' });
      const { decided, request } = result;
      if (!decided) {
        throw new SidecarError('not_found', { message: `No pending token request with this id: it is ${request.status}${request.decidedBy ? ` (${request.decidedBy})` : ''}.` });
      }
      // Recorded after the decision, which is one conditional write (no undo): should the record
      // fail, the request stays decided and the answer is 503; the claim's row names the approver too.
      await recordAdminAction(rt, {
        actor,
        action: `token_request.${verb}`,
        target: request.id,
        after: { ...tokenRequestAuditSummary(request), status: request.status, comment: request.comment ?? null },
      });
      ctx.body = describeTokenRequest(request) satisfies TokenRequestView;
    });
  }
}
