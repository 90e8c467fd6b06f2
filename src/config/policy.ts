// A validated config compiled once into an immutable Policy. A reload swaps the whole reference,
// so a request judged with one snapshot never sees half of another.
import type { Config } from './schema.js';

export interface Policy {
  readonly version: number;
  readonly config: Readonly<Config>;
}

type Compiler<T> = (config: Config) => T;
const compilers: Array<(p: Policy) => unknown> = [];

/**
 * A per-policy compiled view (parsed CIDRs, built regexes, canonical patterns) owned by a stage.
 * It is computed once per policy version: eagerly in compilePolicy (so a setup mistake throws at
 * load/reload, never per request) and cached by the policy object.
 */
export function perPolicy<T>(compile: Compiler<T>): (p: Policy) => T {
  const cache = new WeakMap<Policy, T>();
  const get = (p: Policy): T => {
    let v = cache.get(p);
    if (v === undefined && !cache.has(p)) {
      v = compile(p.config as Config);
      cache.set(p, v);
    }
    return v as T;
  };
  compilers.push(get);
  return get;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

let versionCounter = 0;
export function compilePolicy(config: Config): Policy {
  const policy: Policy = Object.freeze({ version: ++versionCounter, config: deepFreeze(structuredClone(config)) });
  for (const c of compilers) c(policy);
  return policy;
}
