// A decision stage as plain code: reads and fills RequestState, throws a SidecarError to refuse.
// The proxy adapts steps to Koa (asMiddleware); POST /api/test runs the same steps (evaluate.ts).
import type { ProxyContext, ProxyMiddleware } from './context.js';
import { SidecarError } from '../errors.js';
import type { RequestState, StageName } from './state.js';

/** 'proxy' consumes (rate-limit points, last-used stamps); 'test' must not change anything. */
export type EvalMode = 'proxy' | 'test';

export interface Step {
  readonly name: StageName;
  run(state: RequestState, mode: EvalMode): void | Promise<void>;
}

/** Records a refusal on the state (once) and returns the error for rethrow. */
export function recordRefusal(state: RequestState, stage: StageName, err: unknown): unknown {
  if (err instanceof SidecarError && !state.refusal) {
    state.refusal = { code: err.code, status: err.status, stage, rule: err.rule, message: err.message };
    if (!state.verdicts.some((v) => v.outcome === 'deny')) {
      state.verdicts.push({ stage, rule: err.rule ?? stage, outcome: 'deny', code: err.code, detail: err.detail ?? err.message });
    }
  }
  return err;
}

export async function runStep(step: Step, state: RequestState, mode: EvalMode): Promise<void> {
  try {
    const r = step.run(state, mode);
    if (r) await r;
  } catch (err) {
    throw recordRefusal(state, step.name, err);
  }
}

/**
 * The decision steps as one Koa middleware: the steps in order, each refusal recorded as runStep
 * does, but one Koa dispatch (and promise) per request instead of one per step. A refusal is
 * answered here (`refuse`: the JSON refusal) and the request ends normally: the outer stages read
 * it from state.refusal, as they would from a thrown error. Anything else thrown propagates.
 */
export function stepsAsMiddleware(
  steps: readonly Step[],
  refuse: (ctx: ProxyContext, state: RequestState, err: SidecarError) => void,
  /** Tracing only (pipeline/trace/): called with each step's start and end; composed without it otherwise. */
  time?: { now(): number; record(state: RequestState, stage: StageName, from: number, to: number): void; upstream(state: RequestState, at: number): void },
): ProxyMiddleware {
  /** A step that threw: the refusal recorded (and its time), then answered; anything else is thrown on. */
  const failed = (ctx: ProxyContext, state: RequestState, i: number, from: number, err: unknown): void => {
    const step = steps[i]!;
    recordRefusal(state, step.name, err);
    if (time) time.record(state, step.name, from, time.now());
    if (err instanceof SidecarError) return refuse(ctx, state, err);
    throw err;
  };
  /**
   * The steps from i on, then the next stage. Not async: when every step answers synchronously (a
   * cached token, the common case) the request goes on without an async frame or promise of its own
   * here; a step that answers with a promise (a cache miss, a store) is awaited, then the rest run.
   */
  const runFrom = (ctx: ProxyContext, state: RequestState, i: number, next: () => Promise<unknown>): Promise<unknown> => {
    for (; i < steps.length; i++) {
      const at = i;
      const from = time?.now() ?? 0;
      let r: void | Promise<void>;
      try {
        r = steps[at]!.run(state, 'proxy');
      } catch (err) {
        try {
          failed(ctx, state, at, from, err);
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      }
      if (r) {
        return r.then(
          () => {
            if (time) time.record(state, steps[at]!.name, from, time.now());
            return runFrom(ctx, state, at + 1, next);
          },
          (err: unknown) => failed(ctx, state, at, from, err),
        );
      }
      if (time) time.record(state, steps[at]!.name, from, time.now());
    }
    if (time) time.upstream(state, time.now());
    return next();
  };
  return function decide(ctx, next) {
    return runFrom(ctx, ctx.state as RequestState, 0, next);
  };
}
