// Report-only rules (issue 18): which refusing rules enforce and which only report. Pure.
// A rule in report mode does not refuse: the request goes on as if the rule were absent, and the
// request's state (and so its audit row, metrics and /api/test answer) records what it would have
// been refused with. Verification failures (forged, expired, malformed credentials) are never
// report-only: they are not rules an admin switches on, they are proof that failed.
import { perPolicy } from '../../config/policy.js';
import type { Config } from '../../config/schema.js';

import { type RuleFamily, type RuleMode } from '../../config/enforcement.js';
export type { RuleFamily, RuleMode };
export { ruleKey } from '../../config/enforcement.js';

export interface ModeView {
  /** True when no rule reports (the common case: callers skip all bookkeeping). */
  readonly allEnforced: boolean;
  /** The mode of an entry: its own setting, else its family's, else enforcement.mode. */
  modeOf(family: RuleFamily, entry?: string): RuleMode;
}

/**
 * The modes of a config: enforcement.rules (an entry, then its family), then the `mode` a family's
 * own settings object may carry (credentials.mode, publicApiLockdown.mode, rateLimit.mode), then
 * enforcement.mode.
 */
export function modeView(c: Pick<Config, 'enforcement' | 'credentials' | 'publicApiLockdown' | 'rateLimit'>): ModeView {
  const e = c.enforcement;
  const rules = new Map<string, RuleMode>(Object.entries(e.rules));
  const own: Partial<Record<RuleFamily, RuleMode>> = {};
  if (c.credentials.mode) own.credentials = c.credentials.mode;
  if (c.publicApiLockdown.mode) own.lockdown = c.publicApiLockdown.mode;
  if (c.rateLimit.mode) own.rateLimit = c.rateLimit.mode;
  const allEnforced = e.mode === 'enforce' && [...rules.values(), ...Object.values(own)].every((m) => m === 'enforce');
  return Object.freeze({
    allEnforced,
    modeOf(family: RuleFamily, entry?: string): RuleMode {
      if (allEnforced) return 'enforce';
      return (entry !== undefined ? rules.get(`${family}:${entry}`) : undefined) ?? rules.get(family) ?? own[family] ?? e.mode;
    },
  });
}

export const modesOf = perPolicy<ModeView>((c) => modeView(c));
