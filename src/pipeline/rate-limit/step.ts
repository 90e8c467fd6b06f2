import { SidecarError } from '../../errors.js';
import type { Deps } from '../deps.js';
import type { EvalMode, Step } from '../step.js';
import type { RateLimitInfo, RequestState } from '../state.js';
import { createRateLimiterService, type LimitOutcome, type RateLimiterService } from './limiter.js';
import { costOf, exemptionOf, planRateLimit, rateLimitHeaders, type RatePlan } from './plan.js';
import './service.js';
import { modesOf } from '../enforcement/modes.js';
import { recordWouldDeny, wouldDenyVerdict } from '../enforcement/report.js';

/** Used only when no limiter was registered (hand-built Deps in tests): a memory limiter, never none. */
const fallback = new WeakMap<Deps, RateLimiterService>();
/**
 * The start-up warm-up (http/warm-up.ts) counts on a memory limiter of its own, in this process: its
 * requests run the same code and never touch the real counts (nor a shared Redis or PostgreSQL
 * store, nor the cluster primary's).
 */
const warmupLimiters = new WeakMap<Deps, RateLimiterService>();
function limiterOf(d: Deps, warmup?: boolean): RateLimiterService {
  if (warmup) {
    let svc = warmupLimiters.get(d);
    if (!svc) warmupLimiters.set(d, (svc = createRateLimiterService({ store: 'memory', onStoreFailure: 'deny', redisTimeoutMs: 1000 }, d.logger, { inProcess: true })));
    return svc;
  }
  if (d.services.rateLimiter) return d.services.rateLimiter;
  let svc = fallback.get(d);
  if (!svc) {
    svc = createRateLimiterService({ store: 'memory', onStoreFailure: 'deny', redisTimeoutMs: 1000 }, d.logger);
    fallback.set(d, svc);
  }
  return svc;
}

// Per credential identity (token id, client id or user), never per IP alone. In 'test' mode
// (POST /api/test) it peeks without consuming. Passthrough kinds have no identity: Jira's own
// limits apply to them.
export function rateLimit(d: Deps): Step {
  return {
    name: 'rate-limit',
    run(st, mode) {
      if (!st.route || st.route === 'unprotected') return;
      const cfg = st.policy.config.rateLimit;
      if (!cfg.enabled) return void st.verdicts.push({ stage: 'rate-limit', rule: 'rateLimit', outcome: 'skip', detail: 'rateLimit.enabled: false' });
      if (!st.identity) return void st.verdicts.push({ stage: 'rate-limit', rule: 'rateLimit', outcome: 'skip', detail: 'no identity: Jira limits passthrough credentials' });
      const exempt = exemptionOf(st.identity, cfg);
      if (exempt) return void st.verdicts.push({ stage: 'rate-limit', rule: 'rateLimit.exemptions', outcome: 'pass', detail: `exempt: ${exempt}; never limited` });
      const plan = planRateLimit(st.identity, cfg);
      const cost = costOf(st.facts.method, st.canonicalPath ?? '', cfg, plan.points);
      // The memory store answers at once: the decision stages then finish in this turn, without a
      // promise; a shared store's answer is applied when it comes (a promise chain, not an async function).
      const out = limiterOf(d, st.warmup).check(plan.key, plan, mode === 'proxy', cost.cost);
      if (out instanceof Promise) return out.then((o) => apply(st, plan, o, mode, cost));
      apply(st, plan, out, mode, cost);
    },
  };
}

/**
 * The store's answer applied to the request: refused, or passed with its RateLimit-* headers. In
 * report mode (enforcement.rules rateLimit / rateLimit:<entry>) points are still counted, a limited
 * request is recorded and goes on, and no RateLimit-* header is sent (the caller sees no difference).
 */
function apply(st: RequestState, plan: RatePlan, out: LimitOutcome, mode: EvalMode, cost: { cost: number; rule?: string }): void {
  const report = modesOf(st.policy).modeOf('rateLimit', plan.entry) === 'report';
  if (out.kind === 'unavailable') {
    if (report) return void st.verdicts.push({ stage: 'rate-limit', rule: plan.source, outcome: 'skip', detail: `report only, and the store did not answer: ${out.detail}` });
    throw new SidecarError('rate_limit_unavailable', { rule: 'rateLimit.store', detail: out.detail });
  }
  const info: RateLimitInfo = { limit: out.limit, remaining: out.remaining, resetSec: Math.ceil(out.resetMs / 1000), key: plan.key, cost: cost.cost };
  if (plan.fillRate !== undefined) info.bucket = { fillRate: plan.fillRate, intervalSec: plan.durationSec, retrySec: Math.ceil((out.retryMs ?? 0) / 1000) };
  st.rateLimit = info;
  const costText = cost.rule ? `, cost ${cost.cost} (${cost.rule})` : '';
  const detail =
    plan.fillRate !== undefined
      ? `${plan.key}: ${out.remaining}/${out.limit} tokens left, ${plan.fillRate} added per ${plan.durationSec}s${costText} (${plan.source}, token bucket, ${out.via}${mode === 'test' ? ', not consumed' : ''})`
      : `${plan.key}: ${out.remaining}/${out.limit} left per ${plan.durationSec}s${costText} (${plan.source}, ${out.via}${mode === 'test' ? ', not consumed' : ''})`;
  if (report) {
    if (out.kind === 'limited') {
      recordWouldDeny(st, { code: 'rate_limited', stage: 'rate-limit', rule: `rateLimit:${plan.entry}`, detail });
      st.verdicts.push(wouldDenyVerdict('rate-limit', plan.source, 'rate_limited', detail));
    } else st.verdicts.push({ stage: 'rate-limit', rule: plan.source, outcome: 'pass', detail: `${detail}; report only: no RateLimit-* headers` });
    return;
  }
  if (out.kind === 'limited') throw new SidecarError('rate_limited', { rule: plan.source, detail, headers: rateLimitHeaders(info, true) });
  st.verdicts.push({ stage: 'rate-limit', rule: plan.source, outcome: 'pass', detail });
  // RateLimit-* on the allowed answer (forward relays them, replacing any copies from Jira).
  if (mode === 'proxy') {
    const h = (st.responseHeaders ??= []);
    for (const [name, value] of Object.entries(rateLimitHeaders(info))) h.push(name, value);
  }
}
