// A compiled Policy from a config fragment, for pure unit tests of stage decisions.
import { compilePolicy, type Policy } from '../../src/config/policy.js';
import { validate } from '../../src/config/validate.js';

export function policyFrom(input: unknown = {}): Policy {
  const v = validate(input);
  if (!v.ok) throw new Error(`test config invalid: ${JSON.stringify(v.issues)}`);
  return compilePolicy(v.config);
}
