// Access rules: the master switch, protected paths, bypass and lockdown, groups, read-only,
// IP allow-lists (checked while typing), trusted proxies, and which rules only report (issue 18).
import { html, type TemplateResult } from 'lit';
import { ConfigPage } from '../base.js';
import { cidrProblem } from '../cidr.js';
import { MODE_OPTIONS, type Form } from '../fields.js';

const PATTERN_HELP = 'One per line: an exact path "/rest/x", a prefix "/rest/x/*", or "METHOD /path".';
const MODES = ['enforce', 'report'];

const FAMILIES = ['credentials', 'lockdown', 'allowedGroups', 'readOnlyGroups', 'ipAllowlist', 'clientAcl', 'tokenScope', 'rateLimit'];
/** Feedback while typing; the server checks each key fully (its message shows beside the field). */
function ruleLineProblem(key: string, mode: string): string | null {
  if (!MODES.includes(mode)) return `"${key}": the mode is enforce or report, not "${mode}"`;
  const family = key.split(':')[0]!;
  if (!FAMILIES.includes(family)) return `"${family}" is not a rule family (${FAMILIES.join(', ')})`;
  return null;
}
const cidrList = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export class AccessPage extends ConfigPage {
  readonly heading = 'Access rules';

  renderForm(f: Form): TemplateResult {
    return html`
      <fieldset>
        <legend>Guarding</legend>
        ${f.bool(['enabled'], 'Sidecar enabled', { help: 'Off: requests are forwarded without authentication (still audited; spoofed identity headers are still removed).' })}
        ${f.list(['protectedPaths'], 'Protected path prefixes', { help: 'Prefixes the sidecar guards; everything else passes through.' })}
        ${f.list(['bypass'], 'Bypass (never authenticated)', { help: PATTERN_HELP })}
        ${f.bool(['publicApiLockdown', 'enabled'], 'Public API lockdown', { help: 'Force a credential where Jira would allow anonymous access.' })}
        ${f.bool(['publicApiLockdown', 'all'], 'Lock down every protected path')}
        ${f.list(['publicApiLockdown', 'paths'], 'Lockdown paths', { help: PATTERN_HELP })}
        ${f.select(['publicApiLockdown', 'mode'], 'Lockdown mode', MODE_OPTIONS, {
          optional: true,
          help: 'Report only: anonymous calls still pass and are recorded as "would deny". Not set: the mode below (Report-only rules).',
        })}
      </fieldset>
      <fieldset>
        <legend>Groups</legend>
        ${f.list(['access', 'allowedGroups'], 'Allowed groups', { help: 'Empty: any authenticated identity. One group per line.' })}
        ${f.list(['access', 'readOnlyGroups'], 'Read-only groups', { help: 'Members may only use safe methods (GET, HEAD, OPTIONS) and the read-safe POSTs below.' })}
        ${f.list(['access', 'readSafePosts'], 'Read-safe POST paths', { help: PATTERN_HELP })}
      </fieldset>
      <fieldset>
        <legend>Network</legend>
        ${f.list(['access', 'ipAllowlist'], 'IP allow-list', { help: 'CIDRs or addresses, IPv4 and IPv6, one per line. Empty: any address.', check: cidrProblem })}
        ${f.map(['access', 'groupIpAllowlists'], 'Per-group IP allow-lists', {
          help: 'One group per line: "group = 10.0.0.0/8, 192.168.1.0/24".',
          placeholder: 'group = 10.0.0.0/8, 2001:db8::/32',
          parse: cidrList,
          show: (v: string[]) => v.join(', '),
          check: (_k, v) => cidrList(v).map(cidrProblem).find((x) => x !== null) ?? null,
        })}
        ${f.bool(['access', 'bypassSkipsIpAllowlist'], 'Bypassed paths skip the IP allow-list')}
        ${f.list(['access', 'trustedProxies'], 'Trusted proxies', { help: 'CIDRs whose X-Forwarded-For is believed (reverse proxy compatibility).', check: cidrProblem })}
        ${f.text(['access', 'clientIpHeader'], 'Client IP header')}
      </fieldset>
      <fieldset>
        <legend>Report-only rules</legend>
        <p class="help">
          A rule in report mode refuses nobody: the request goes on as if the rule were absent, and its audit row records the code it would
          have been refused with ("would deny"). Use it to see who a new rule would lock out before enforcing it; the Readiness page lists them.
          Forged, expired or malformed credentials are always refused. A family's mode can also be set beside it (credential kinds on the
          Authentication page, lockdown above, rate limits on their page); an entry below wins.
        </p>
        ${f.select(['enforcement', 'mode'], 'Mode of every rule not listed below', MODE_OPTIONS)}
        ${f.map(['enforcement', 'rules'], 'Per-rule modes', {
          help: html`One rule per line, "rule = enforce" or "rule = report". A rule is a family (<code>credentials</code>, <code>lockdown</code>,
            <code>allowedGroups</code>, <code>readOnlyGroups</code>, <code>ipAllowlist</code>, <code>clientAcl</code>, <code>tokenScope</code>,
            <code>rateLimit</code>) or one entry of it: <code>credentials:basic</code>, <code>readOnlyGroups:contractors</code>,
            <code>ipAllowlist:global</code>, <code>clientAcl:&lt;issuer name&gt;</code>, <code>rateLimit:groups.&lt;group&gt;</code>.`,
          placeholder: 'readOnlyGroups:contractors = report',
          check: ruleLineProblem,
        })}
      </fieldset>`;
  }
}
customElements.define('page-access', AccessPage);
