// Rate limits: global, per group and per client application.
import { html, type TemplateResult } from 'lit';
import { ConfigPage } from '../base.js';
import { MODE_OPTIONS, type Form } from '../fields.js';

type Limit = { points: number; durationSec: number };
const parseLimit = (s: string): Limit | string => {
  const m = /^(\d+)\s*\/\s*(\d+)\s*s?$/.exec(s);
  return m ? { points: Number(m[1]), durationSec: Number(m[2]) } : s;
};
const limitOpts = {
  placeholder: 'name = 100/60',
  parse: (s: string) => parseLimit(s),
  show: (v: Limit) => `${v.points}/${v.durationSec}`,
  check: (k: string, v: string) => (typeof parseLimit(v) === 'string' ? `${k}: write POINTS/SECONDS, e.g. 100/60` : null),
};

export class RateLimitsPage extends ConfigPage {
  readonly heading = 'Rate limits';

  renderForm(f: Form): TemplateResult {
    return html`
      <fieldset>
        <legend>Default limit (per identity)</legend>
        ${f.bool(['rateLimit', 'enabled'], 'Rate limiting enabled')}
        ${f.num(['rateLimit', 'points'], 'Requests allowed', { min: 1 })}
        ${f.num(['rateLimit', 'durationSec'], 'Per this many seconds', { min: 1 })}
        ${f.select(['rateLimit', 'mode'], 'Mode of the limits', MODE_OPTIONS, {
          optional: true,
          help: 'Report only: nobody is refused; requests over a limit are recorded as "would deny" (still counted). Not set: enforcement.mode on the Access rules page. An enforcement.rules entry wins.',
        })}
      </fieldset>
      <fieldset>
        <legend>Overrides</legend>
        ${f.map(['rateLimit', 'groups'], 'Per group', { ...limitOpts, help: 'One per line: "group = POINTS/SECONDS".' })}
        ${f.map(['rateLimit', 'clients'], 'Per client application', { ...limitOpts, help: 'One per line: "client id = POINTS/SECONDS".' })}
      </fieldset>
      <fieldset>
        <legend>Store</legend>
        ${f.select(['rateLimit', 'store'], 'Counter store', ['memory', 'redis'], { help: 'Redis shares the counters between replicas.' })}
        ${f.secret(['rateLimit', 'redisUrl'], 'Redis URL', { help: 'e.g. redis://:password@127.0.0.1:6379' })}
        ${f.select(['rateLimit', 'onStoreFailure'], 'When Redis fails', [
          ['insurance', 'insurance: fall back to a per-process memory limiter'],
          ['deny', 'deny: refuse with 503'],
        ])}
        ${f.num(['rateLimit', 'redisTimeoutMs'], 'Redis command timeout (ms)', { min: 1, help: 'A slower answer counts as a store failure.' })}
      </fieldset>`;
  }
}
customElements.define('page-rate-limits', RateLimitsPage);
