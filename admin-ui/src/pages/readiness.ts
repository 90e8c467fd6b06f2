// Readiness (issue 18, safe rollout): before turning off a credential kind or enforcing a rule that
// is in report mode, who would break? One card per switch from GET /api/readiness: a sentence, when
// it was seen, the setting to change, requests over time, who/where/what tables, a link to the audit
// rows and a CSV download.
import { html, nothing, svg, type SVGTemplateResult, type TemplateResult } from 'lit';
import { get, qs } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { hashQuery, num, PERIODS, periodText, plural, when, type Period } from '../format.js';
import type { ReadinessReport, ReadinessSwitch, ReadinessTopRow } from '../../../src/admin/wire.js';

/** Switch id of a credential kind -> the audit log's credentialKind (src/rollout/readiness.ts CREDENTIAL_SWITCHES). */
const CREDENTIAL_KIND_OF: Record<string, string> = {
  'credentials:basic': 'basic',
  'credentials:jiraPat': 'jira-pat',
  'credentials:oauth1': 'oauth1',
  'credentials:jiraOAuth2': 'opaque-bearer',
  'credentials:session': 'session',
  'credentials:anonymous': 'anonymous',
};

/** The audit page filtered to the rows behind a switch. */
export function auditHref(s: ReadinessSwitch): string {
  if (s.kind === 'credential') {
    const kind = CREDENTIAL_KIND_OF[s.id];
    return `#/audit${qs({ credentialKind: kind ?? s.id.replace(/^credentials:/, '') })}`;
  }
  return `#/audit${qs({ wouldDeny: s.code })}`;
}

/** "Turn off Basic auth (Jira passwords): 14 users, 3 integrations used it in the last 7 days (1,204 requests)". */
export function switchSentence(s: ReadinessSwitch, since: string): string {
  const period = periodText(since);
  if (s.requests === 0) return `${s.title}: Nobody used it in ${period}: safe to switch.`;
  const who = [plural(s.users, 'user'), ...(s.clients ? [plural(s.clients, 'integration')] : [])].join(', ');
  const verb = s.kind === 'credential' ? `used it in ${period}` : `would have been refused in ${period}`;
  return `${s.title}: ${who} ${verb} (${plural(s.requests, 'request')}).`;
}

/** [top list, caption, column heading, the switch's distinct count of it]. */
const TABLES: Array<[keyof ReadinessSwitch['top'], string, string, 'users' | 'clients' | 'addresses' | 'userAgents' | null]> = [
  ['users', 'Users', 'User', 'users'],
  ['clients', 'Integrations (clients)', 'Client', 'clients'],
  ['addresses', 'Client addresses', 'Address', 'addresses'],
  ['userAgents', 'User agents', 'User agent', 'userAgents'],
  ['paths', 'Paths', 'Method and path', null],
];

/** A round upper bound for the axis (1, 2, 5 × 10^n). */
function niceMax(v: number): number {
  if (v <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

/**
 * A bar chart of a switch's series, drawn at the width it is shown at (a ResizeObserver keeps the
 * viewBox equal to the box in CSS pixels), so the 12px axis labels stay 12px on any window.
 */
export class SeriesChart extends LightElement {
  static override properties = { series: { attribute: false }, bucketMs: { attribute: false }, since: { attribute: false } };
  series: ReadinessSwitch['series'] = [];
  bucketMs = 86_400_000;
  since = '7d';
  private width = 640;
  private observer: ResizeObserver | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    this.observer = new ResizeObserver((entries) => {
      // The figure's content box: the width the SVG is drawn at (its padding and border excluded).
      const w = Math.floor(entries[0]?.contentRect.width ?? 0);
      if (w > 0 && Math.abs(w - this.width) >= 1) {
        this.width = w;
        this.requestUpdate();
      }
    });
    if (this.hasUpdated) this.observeFigure();
  }

  protected override firstUpdated(): void {
    this.observeFigure();
  }

  private observeFigure() {
    const fig = this.querySelector('figure.series');
    if (fig) this.observer?.observe(fig);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.observer?.disconnect();
  }

  private label(iso: string): string {
    const d = new Date(iso);
    const day = d.toLocaleDateString('en-US', { month: 'short', day: 'numeric' });
    return this.bucketMs < 86_400_000 ? `${String(d.getHours()).padStart(2, '0')}:00` : day;
  }

  override render(): TemplateResult {
    const series = this.series;
    const W = Math.max(240, this.width);
    const H = 170;
    const PAD = { l: 48, r: 10, t: 12, b: 28 };
    const total = series.reduce((a, b) => a + b.requests, 0);
    const peak = series.reduce((a, b) => (b.requests > a.requests ? b : a), series[0] ?? { t: '', requests: 0 });
    const max = niceMax(Math.max(0, ...series.map((b) => b.requests)));
    const plotW = W - PAD.l - PAD.r;
    const plotH = H - PAD.t - PAD.b;
    const bw = series.length ? plotW / series.length : plotW;
    const y = (v: number) => PAD.t + plotH * (1 - v / max);
    const per = this.bucketMs < 86_400_000 ? 'hour' : 'day';
    // At most one x label per ~70px, always the first and last bucket.
    const every = Math.max(1, Math.ceil(series.length / Math.max(2, Math.floor(plotW / 70))));
    const xLabels = series.map((_, i) => i).filter((i) => i % every === 0);
    const last = series.length - 1;
    if (last > 0 && xLabels[xLabels.length - 1] !== last) {
      // The last bucket is always labelled; a regular label too close to it gives way.
      if (last - xLabels[xLabels.length - 1]! < every && xLabels.length > 1) xLabels.pop();
      xLabels.push(last);
    }
    const ticks = max % 2 === 0 ? [0, max / 2, max] : [0, max];
    const name = `Requests that would be refused per ${per} over ${periodText(this.since)}: ${num(total)} in total${total ? `, most ${per === 'hour' ? 'at' : 'on'} ${this.label(peak.t)} (${num(peak.requests)})` : ''}.`;
    const axis: SVGTemplateResult = svg`${ticks.map(
      (t) => svg`<line class="grid" x1=${PAD.l} x2=${W - PAD.r} y1=${y(t)} y2=${y(t)}></line>
        <text class="axis" x=${PAD.l - 6} y=${y(t) + 4} text-anchor="end">${num(t)}</text>`,
    )}
    ${xLabels.map((i) => svg`<text class="axis" x=${PAD.l + bw * (i + 0.5)} y=${H - 8} text-anchor="middle">${this.label(series[i]!.t)}</text>`)}`;
    return html`<figure class="series">
      <figcaption>Requests that would be refused, per ${per}</figcaption>
      <svg viewBox="0 0 ${W} ${H}" width=${W} height=${H} role="img" aria-label=${name}>
        ${axis}
        ${series.map((b, i) => {
          const h = (plotH * b.requests) / max;
          return svg`<g><title>${this.label(b.t)}${per === 'hour' ? ` ${when(b.t).slice(0, 10)}` : ''}: ${plural(b.requests, 'request')}</title>
            <rect class="bar would" x=${PAD.l + i * bw + 1} width=${Math.max(1, bw - 2)} y=${PAD.t + plotH - h} height=${h}></rect></g>`;
        })}
      </svg>
    </figure>`;
  }
}
customElements.define('series-chart', SeriesChart);

export class ReadinessPage extends LightElement {
  since: Period = '7d';
  data: ReadinessReport | null = null;
  status: Status = null;
  loading = false;

  override connectedCallback(): void {
    super.connectedCallback();
    const s = hashQuery().get('since');
    if (s && PERIODS.some(([k]) => k === s)) this.since = s as Period;
    void this.load();
  }

  async load(): Promise<void> {
    this.loading = true;
    this.requestUpdate();
    try {
      this.data = await get<ReadinessReport>(`/api/readiness${qs({ since: this.since })}`);
      this.status = null;
    } catch (e) {
      this.status = { kind: 'error', text: `Could not read the report: ${errorText(e)}` };
    } finally {
      this.loading = false;
      this.requestUpdate();
    }
  }

  private pick(p: Period) {
    if (p === this.since) return;
    this.since = p;
    history.replaceState(null, '', `#/readiness${qs({ since: p })}`);
    void this.load();
  }

  private table(s: ReadinessSwitch, key: keyof ReadinessSwitch['top'], label: string, column: string, total: number | null): TemplateResult {
    const rows: ReadinessTopRow[] = s.top[key];
    const more = total !== null && total > rows.length ? ` (top ${rows.length} of ${num(total)})` : '';
    return html`<div class="table-wrap top-table" data-table=${key}><table>
      <caption>${label}${more}</caption>
      <thead><tr><th scope="col">${column}</th><th scope="col" class="n">Requests</th><th scope="col">Last seen</th></tr></thead>
      <tbody>
        ${rows.length === 0 ? html`<tr><td colspan="3">None</td></tr>` : nothing}
        ${rows.map((r) => html`<tr><td class="name">${r.name}</td><td class="n">${num(r.requests)}</td><td class="seen">${when(r.lastSeen)}</td></tr>`)}
      </tbody>
    </table></div>`;
  }

  private card(s: ReadinessSwitch, i: number): TemplateResult {
    const d = this.data!;
    const forms = Object.entries(s.forms);
    const facts: Array<[string, TemplateResult | string]> = [
      ['Setting to change', html`<code>${s.setting}</code>`],
      ['Refused with', html`<code>${s.code}</code>`],
      ['First seen', when(s.firstSeen)],
      ['Last seen', when(s.lastSeen)],
      ['Would be refused', plural(s.requests, 'request')],
      ['Already refused', plural(s.refused, 'request')],
      ['From', `${plural(s.addresses, 'address', 'addresses')}, ${plural(s.userAgents, 'user agent')}`],
    ];
    if (forms.length) facts.push(['Sent as', forms.map(([f, n]) => `${f}: ${num(n)}`).join('; ')]);
    const safe = s.requests === 0;
    return html`<section class="switch ${safe ? 'safe' : 'breaks'}" aria-labelledby=${`sw-${i}-h`} data-switch=${s.id}>
      <h2 id=${`sw-${i}-h`}>${s.title}</h2>
      <p class="verdict">${switchSentence(s, this.since)}</p>
      <dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}</dl>
      ${s.series.length ? html`<series-chart .series=${s.series} .bucketMs=${d.bucketMs} .since=${this.since}></series-chart>` : nothing}
      ${safe ? nothing : html`<div class="top-tables">${TABLES.map(([key, label, column, total]) => this.table(s, key, label, column, total === null ? null : s[total]))}</div>`}
      <div class="actions">
        <a class="button" href=${auditHref(s)}>Show in audit log</a>
        <a class="button" href=${`/api/readiness/export${qs({ since: this.since, switch: s.id })}`} download>Download CSV</a>
      </div>
    </section>`;
  }

  override render(): TemplateResult {
    const d = this.data;
    return html`<h1>Readiness</h1>
      <p class="help">
        Before you turn off a credential kind or enforce a rule that is in report mode: who still uses it, from where and with what, from the
        audit log. Put a new rule in report mode first (Access rules, "Report-only rules"), then watch it here.
      </p>
      <fieldset class="period" aria-busy=${this.loading ? 'true' : 'false'}>
        <legend>Period</legend>
        ${PERIODS.map(
          ([k, , label]) => html`<label class="radio"><input type="radio" name="since" value=${k} .checked=${this.since === k} @change=${() => this.pick(k)} /> ${label}</label>`,
        )}
        <button type="button" class="small" @click=${() => void this.load()}>Refresh</button>
      </fieldset>
      ${statusLine(this.status)}
      ${!d
        ? html`<p>Loading…</p>`
        : html`<p class="help summary">${plural(d.scanned, 'recorded request')} read, ${when(d.from)} to ${when(d.to)}.</p>
            ${d.switches.length === 0
              ? html`<section class="empty" aria-label="Nothing to report">
                  <h2>Nothing to prepare</h2>
                  <p>In ${periodText(this.since)} nobody used a credential kind that can be turned off, and no rule in report mode would have refused a request.</p>
                </section>`
              : d.switches.map((s, i) => this.card(s, i))}`}`;
  }
}
customElements.define('page-readiness', ReadinessPage);
