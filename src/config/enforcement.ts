// The names of report-only rules (issue 18), as `enforcement.rules` spells them: families and
// "family:entry" keys. Pure; the config schema checks keys with ruleKeyProblem, the pipeline resolves
// modes with pipeline/enforcement/modes.ts.
export type RuleMode = 'enforce' | 'report';

/** The refusing rule families, by the names `enforcement.rules` uses. */
export const RULE_FAMILIES = ['credentials', 'lockdown', 'allowedGroups', 'readOnlyGroups', 'ipAllowlist', 'clientAcl', 'tokenScope', 'rateLimit'] as const;
export type RuleFamily = (typeof RULE_FAMILIES)[number];

/**
 * What an entry names inside a family ("family:entry"):
 *   credentials:<kind>        basic, jiraPat, oauth1, jiraOAuth2, session, anonymous, jwt, apiToken (the `credentials` keys)
 *   readOnlyGroups:<group>    one read-only group
 *   ipAllowlist:<list>        "global" (access.ipAllowlist), "token" (API tokens' own lists) or a group of access.groupIpAllowlists
 *   clientAcl:<issuer>        one jwt.issuers[] entry's clients.allow
 *   rateLimit:<source>        "default", "token", "groups.<group>" or "clients.<client id>" (the limit that applied)
 * lockdown, allowedGroups and tokenScope are switched as a whole.
 */
export const ENTRY_FAMILIES: ReadonlySet<RuleFamily> = new Set(['credentials', 'readOnlyGroups', 'ipAllowlist', 'clientAcl', 'rateLimit']);
export const CREDENTIAL_RULES = ['basic', 'jiraPat', 'oauth1', 'jiraOAuth2', 'session', 'anonymous', 'jwt', 'apiToken'] as const;

/** Why a rule key is not one (undefined: it is). Used by the config schema. */
export function ruleKeyProblem(key: string): string | undefined {
  const colon = key.indexOf(':');
  const family = colon < 0 ? key : key.slice(0, colon);
  if (!(RULE_FAMILIES as readonly string[]).includes(family)) return `"${family}" is not a rule family (${RULE_FAMILIES.join(', ')})`;
  if (colon < 0) return undefined;
  const entry = key.slice(colon + 1);
  if (!ENTRY_FAMILIES.has(family as RuleFamily)) return `${family} is switched as a whole: write "${family}", without ":${entry}"`;
  if (!entry) return `write the entry after "${family}:"`;
  if (family === 'credentials' && !(CREDENTIAL_RULES as readonly string[]).includes(entry)) return `"${entry}" is not a credential kind (${CREDENTIAL_RULES.join(', ')})`;
  return undefined;
}

/** The enforcement key of a family entry, as `enforcement.rules` and audit rows name it. */
export const ruleKey = (family: RuleFamily, entry?: string): string => (entry === undefined ? family : `${family}:${entry}`);

