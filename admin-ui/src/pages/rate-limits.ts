// Rate limits: global, per group and per client application.
import { html, type TemplateResult } from 'lit';
import { ConfigPage } from '../base.js';
import { MODE_OPTIONS, type Form } from '../fields.js';
import { formatRatePhrase, parseRatePhrase } from '../../../src/config/rate-phrase.js';

// An override: a window in words ("100 per minute", "10 per 30 seconds": the same parser as the
// config schema), or "100/60" (points per seconds); a token bucket "bucket 500 +50/10" (size, tokens
// added per seconds); or both separated by ";".
type Limit = { points?: number; durationSec?: number; maxRequests?: number; fillRate?: number; intervalSec?: number };
const parseLimit = (s: string): Limit | string => {
  const out: Limit = {};
  for (const part of s.split(';').map((x) => x.trim()).filter(Boolean)) {
    const w = /^(\d+)\s*\/\s*(\d+)\s*s?$/.exec(part);
    const b = /^bucket\s+(\d+)\s*\+\s*(\d+)\s*\/\s*(\d+)\s*s?$/.exec(part);
    const words = parseRatePhrase(part);
    if (words) Object.assign(out, words);
    else if (w) Object.assign(out, { points: Number(w[1]), durationSec: Number(w[2]) });
    else if (b) Object.assign(out, { maxRequests: Number(b[1]), fillRate: Number(b[2]), intervalSec: Number(b[3]) });
    else return s;
  }
  return Object.keys(out).length ? out : s;
};
const showLimit = (v: Limit | string) =>
  typeof v === 'string'
    ? v
    : [
        v.points !== undefined && v.durationSec !== undefined ? formatRatePhrase({ points: v.points, durationSec: v.durationSec }) : '',
        v.maxRequests !== undefined ? `bucket ${v.maxRequests} +${v.fillRate}/${v.intervalSec}` : '',
      ]
        .filter(Boolean)
        .join('; ');
const limitOpts = {
  placeholder: 'name = 100 per minute',
  parse: (s: string) => parseLimit(s),
  show: showLimit,
  check: (k: string, v: string) => (typeof parseLimit(v) === 'string' ? `${k}: write a rate limit like "100 per minute" (or "10 per 30 seconds"); a token bucket as "bucket 500 +50/10"` : null),
};

// A cost line: "[METHOD] /path/pattern = COST".
type Cost = { method?: string; path: string; cost: number };
const COST_LINE = /^(?:([A-Z]+)\s+)?(\/\S*)\s*=\s*(\d+)$/;
const parseCost = (l: string): Cost | string => {
  const m = COST_LINE.exec(l);
  if (!m) return l;
  return m[1] ? { method: m[1], path: m[2]!, cost: Number(m[3]) } : { path: m[2]!, cost: Number(m[3]) };
};
const showCost = (c: Cost) => `${c.method ? `${c.method} ` : ''}${c.path} = ${c.cost}`;
const COSTS_PATH = 'rateLimit.costs';

export class RateLimitsPage extends ConfigPage {
  readonly heading = 'Rate limits';

  /** What the words field shows while it is edited (null: the numbers below, in words). */
  private words: string | null = null;
  private wordsProblem: string | null = null;

  protected override afterReset(): void {
    this.words = null;
    this.wordsProblem = null;
  }

  /** The default window typed as words; it fills in the two numbers below (which stay the saved settings). */
  private defaultInWords(f: Form): TemplateResult {
    const points = f.get(['rateLimit', 'points']);
    const durationSec = f.get(['rateLimit', 'durationSec']);
    const shown = this.words ?? (Number.isInteger(points) && Number.isInteger(durationSec) ? formatRatePhrase({ points, durationSec }) : '');
    return html`<div class="field ${this.wordsProblem ? 'invalid' : ''}" data-words="rateLimit">
      <label for="rl-words">Default limit (window), in words</label>
      <input id="rl-words" .value=${shown} placeholder="600 per minute" spellcheck="false" aria-describedby="rl-words-help rl-words-err" aria-invalid=${this.wordsProblem ? 'true' : 'false'}
        @input=${(e: Event) => {
          this.words = (e.target as HTMLInputElement).value;
          const l = parseRatePhrase(this.words);
          this.wordsProblem = l || this.words.trim() === '' ? null : 'Write a rate limit like "100 per minute" (or "5 per second", "1000 per hour", "10 per 30 seconds").';
          if (l) {
            f.set(['rateLimit', 'points'], l.points);
            f.set(['rateLimit', 'durationSec'], l.durationSec);
          } else this.requestUpdate();
        }}
        @change=${() => {
          if (!this.wordsProblem) this.words = null;
          this.requestUpdate();
        }} />
      <div class="help" id="rl-words-help">e.g. "100 per minute", "5 per second", "10 per 30 seconds": sets the two numbers below.</div>
      <div class="error" id="rl-words-err" role="alert">${this.wordsProblem ?? ''}</div>
    </div>`;
  }

  renderForm(f: Form): TemplateResult {
    // The list field shows strings: the cost entries are seeded as their text form.
    const costs = f.get(['rateLimit', 'costs']);
    if (!this.rawText.has(COSTS_PATH) && Array.isArray(costs)) this.rawText.set(COSTS_PATH, (costs as Cost[]).map(showCost).join('\n'));
    return html`
      <fieldset>
        <legend>Default limit (per identity)</legend>
        ${f.bool(['rateLimit', 'enabled'], 'Rate limiting enabled')}
        ${f.select(['rateLimit', 'algorithm'], 'Algorithm', [
          ['window', 'window: a fixed number of requests per window'],
          ['token-bucket', 'token bucket (Jira Data Center): a bucket refilled at a steady rate'],
        ])}
        ${this.defaultInWords(f)}
        ${f.num(['rateLimit', 'points'], 'Requests allowed (window)', { min: 1 })}
        ${f.num(['rateLimit', 'durationSec'], 'Per this many seconds (window)', { min: 1 })}
        ${f.num(['rateLimit', 'maxRequests'], 'Max requests (token bucket size)', { min: 1, help: 'A burst of up to this many; at least the fill rate.' })}
        ${f.num(['rateLimit', 'fillRate'], 'Fill rate (tokens added per interval)', { min: 1 })}
        ${f.num(['rateLimit', 'intervalSec'], 'Interval (seconds)', { min: 1, help: 'Token bucket answers carry X-RateLimit-Limit, -Remaining, -Interval-Seconds, -FillRate and Retry-After, as Jira Data Center does.' })}
        ${f.select(['rateLimit', 'mode'], 'Mode of the limits', MODE_OPTIONS, {
          optional: true,
          help: 'Report only: nobody is refused; requests over a limit are recorded as "would deny" (still counted). Not set: enforcement.mode on the Access rules page. An enforcement.rules entry wins.',
        })}
      </fieldset>
      <fieldset>
        <legend>Overrides</legend>
        ${f.map(['rateLimit', 'groups'], 'Per group', { ...limitOpts, help: 'One per line: "group = 100 per minute" (or "5 per second", "1000 per hour", "10 per 30 seconds").' })}
        ${f.map(['rateLimit', 'clients'], 'Per client application', { ...limitOpts, help: 'One per line: "client id = 100 per minute". Token bucket: "client id = bucket SIZE +FILL/SECONDS".' })}
      </fieldset>
      <fieldset>
        <legend>Exemptions and costs</legend>
        ${f.list(['rateLimit', 'exemptions', 'users'], 'Exempt users', { help: 'Jira user names never limited (either algorithm). One per line.' })}
        ${f.list(['rateLimit', 'exemptions', 'groups'], 'Exempt groups', { help: 'Members are never limited. One per line.' })}
        ${f.list(['rateLimit', 'costs'], 'Request costs', {
          placeholder: 'POST /rest/api/2/search = 5',
          parse: (l: string) => parseCost(l),
          check: (l: string) => (typeof parseCost(l) === 'string' ? `"${l}": write "[METHOD] /path = COST", e.g. "POST /rest/api/2/search = 5" or "/rest/api/2/issue/bulk/* = 10"` : null),
          help: 'One per line, first match wins; other requests cost 1. A request costs that many points or tokens (at most the whole limit).',
        })}
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
