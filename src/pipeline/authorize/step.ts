import type { Deps } from '../deps.js';
import type { Step } from '../step.js';

// FOUNDATION: no rules yet (the policy issue adds groups, read-only, IP allow-list, client ACL).
export function authorize(_d: Deps): Step {
  return { name: 'authorize', run() {} };
}
