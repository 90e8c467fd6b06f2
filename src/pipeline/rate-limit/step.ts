import type { Deps } from '../deps.js';
import type { Step } from '../step.js';

// FOUNDATION: no limiter yet (the policy issue adds rate-limiter-flexible, memory and Redis).
export function rateLimit(_d: Deps): Step {
  return { name: 'rate-limit', run() {} };
}
