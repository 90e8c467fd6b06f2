// sharedIss decides whether two configured iss values can select the same token; validation uses it
// to refuse ambiguous issuer lists. Every answer is checked against pickIssuer itself, so the two
// cannot drift: a shared iss must be picked by each issuer alone, and "none" rows are probed.
import { describe, expect, it } from 'vitest';
import { issuerSchema } from '../../../config/schema.js';
import { compileIssuer, pickIssuer, sharedIss } from './issuers.js';

type Side = { value: string; allowedTenants: string[] };
const side = (value: string, allowedTenants: string[] = []): Side => ({ value, allowedTenants });
const compiled = (s: Side) =>
  compileIssuer(issuerSchema.parse({ name: 'x', issuer: s.value, allowedTenants: s.allowedTenants, audiences: ['a'], keys: { jwksUri: 'https://idp/keys' } }));
const picks = (s: Side, iss: string) => pickIssuer([compiled(s)], iss) !== undefined;

const ENTRA = 'https://login.microsoftonline.com/{tenantid}/v2.0';
const rows: Array<[string, Side, Side, string | undefined]> = [
  ['the same exact value', side('https://idp/'), side('https://idp/'), 'https://idp/'],
  ['a trailing slash is another iss (compared exactly)', side('https://idp'), side('https://idp/'), undefined],
  ['letter case is another iss', side('https://IDP'), side('https://idp'), undefined],
  ['a template and an exact value of an allowed tenant', side(ENTRA, ['t1']), side('https://login.microsoftonline.com/t1/v2.0'), 'https://login.microsoftonline.com/t1/v2.0'],
  ['the tenant part matches in any case', side(ENTRA, ['ab']), side('https://login.microsoftonline.com/AB/v2.0'), 'https://login.microsoftonline.com/AB/v2.0'],
  ['a template and an exact value of a tenant not allowed', side(ENTRA, ['t1']), side('https://login.microsoftonline.com/t2/v2.0'), undefined],
  ['the same template with a common tenant', side(ENTRA, ['t1', 't2']), side(ENTRA, ['T2', 't3']), 'https://login.microsoftonline.com/t2/v2.0'],
  ['the same template with disjoint tenants', side(ENTRA, ['t1']), side(ENTRA, ['t2']), undefined],
  ['different templates that meet', side('https://a/{tenantid}/x', ['b']), side('https://a/b/{tenantid}', ['x']), 'https://a/b/x'],
  ['different templates meeting only through letter case', side('https://x/{tenantid}Z', ['ab']), side('https://x/A{tenantid}', ['bz']), 'https://x/AbZ'],
  ['a template without allowed tenants matches nothing', side(ENTRA), side(ENTRA), undefined],
  ['a tenant outside the template alphabet never matches', side(ENTRA, ['t.1']), side('https://login.microsoftonline.com/t.1/v2.0'), undefined],
  ['"*" is the fallback, not a shared iss', side('*'), side('https://idp/'), undefined],
];

describe('sharedIss agrees with pickIssuer', () => {
  for (const [name, a, b, want] of rows) {
    it(name, () => {
      const got = sharedIss(a, b);
      expect(got).toBe(want);
      expect(sharedIss(b, a) !== undefined).toBe(want !== undefined);
      if (got !== undefined) {
        expect(picks(a, got)).toBe(true);
        expect(picks(b, got)).toBe(true);
      } else if (a.value !== '*') {
        // Nothing shared: a's issuer alone picks none of the iss b accepts (its tenants as written).
        const ofB = b.value.includes('{tenantid}') ? b.allowedTenants.map((t) => b.value.replace('{tenantid}', t)) : [b.value];
        for (const iss of ofB) expect(picks(a, iss)).toBe(false);
      }
    });
  }
});
