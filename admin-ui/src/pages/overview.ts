// Overview: traffic from the audit log over a chosen range (1 h, 24 h, 7 d or custom from/to):
// totals (denied apart from rate-limited), requests per bucket (denied and rate-limited stacked),
// p50/p99 latency, denials by reason, and the top users / tokens / clients / paths by requests and by
// refusals. Plain SVG drawn at the figure's measured width (one SVG unit = one CSS pixel), so axis
// text keeps its CSS size on a phone too; buckets with no requests are gaps (no bar, the latency
// line broken), never zeros. Refreshed every 15 s.
import { html, nothing, svg, type SVGTemplateResult, type TemplateResult } from 'lit';
import { get } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { hashQuery, num, zoneName } from '../format.js';
import type { Overview, OverviewBucket as Bucket, OverviewTop, OverviewRange } from '../../../src/admin/wire.js';

const H = 200;
const PAD = { l: 48, r: 10, t: 10, b: 26 };
const pad2 = (n: number) => String(n).padStart(2, '0');
const hhmm = (iso: string) => new Date(iso).toTimeString().slice(0, 5);
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
/** A tick label: the time, with the weekday when the range spans days. */
function tickLabel(iso: string, days: boolean): string {
  const d = new Date(iso);
  return days ? `${DAYS[d.getDay()]} ${pad2(d.getHours())}:${pad2(d.getMinutes())}` : hhmm(iso);
}
/** ISO -> the value of an <input type="datetime-local"> (local time). */
function localInput(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}
const fullTime = (iso: string) => `${localInput(iso).replace('T', ' ')}`;

/** A round upper bound for the axis (1, 2, 5 × 10^n), so the three ticks read as whole numbers. */
function niceMax(v: number): number {
  if (v <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

interface Frame {
  w: number;
  buckets: Bucket[];
  days: boolean;
}

function axes(f: Frame, max: number): SVGTemplateResult {
  const ticks = [0, max / 2, max];
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const n = f.buckets.length;
  // As many time labels as fit (about one per 110 px), evenly spaced over the buckets.
  const count = Math.max(2, Math.min(6, Math.floor((f.w - PAD.l - PAD.r) / (f.days ? 130 : 90))));
  const idx = [...new Set(Array.from({ length: count }, (_, k) => Math.round(((n - 1) * k) / (count - 1))))];
  return svg`${ticks.map(
    (t) => svg`<line class="grid" x1=${PAD.l} x2=${f.w - PAD.r} y1=${y(t)} y2=${y(t)}></line>
      <text class="tick" x=${PAD.l - 6} y=${y(t) + 4} text-anchor="end">${num(t)}</text>`,
  )}
  ${idx.map((i, k) => {
    const b = f.buckets[i];
    const x = PAD.l + ((f.w - PAD.l - PAD.r) * (i + 0.5)) / n;
    const anchor = k === 0 ? 'start' : k === idx.length - 1 ? 'end' : 'middle';
    return b ? svg`<text class="tick" x=${anchor === 'start' ? PAD.l : anchor === 'end' ? f.w - PAD.r : x} y=${H - 7} text-anchor=${anchor}>${tickLabel(b.start, f.days)}</text>` : nothing;
  })}`;
}

function requestsChart(f: Frame, rangeText: string): TemplateResult {
  const { buckets, w } = f;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.requests)));
  const bw = (w - PAD.l - PAD.r) / buckets.length;
  const h = (v: number) => ((H - PAD.t - PAD.b) * v) / max;
  const base = H - PAD.b;
  const total = buckets.reduce((a, b) => a + b.requests, 0);
  const bar = Math.max(1, bw - (bw > 4 ? 2 : 0));
  return html`<figure>
    <figcaption>Requests per ${bucketWord(f)} (denied and rate-limited highlighted)</figcaption>
    <svg data-chart="requests" width=${w} height=${H} viewBox="0 0 ${w} ${H}" role="img" aria-label=${`Requests per ${bucketWord(f)}, ${rangeText}; ${num(total)} in total.`}>
      ${axes(f, max)}
      ${buckets.map((b, i) => {
        if (!b.requests) return nothing; // a gap, not a zero
        const x = PAD.l + i * bw + (bw > 4 ? 1 : 0);
        const ok = b.requests - b.denied - b.rateLimited;
        return svg`<g><title>${hhmm(b.start)}: ${num(b.requests)} requests, ${num(b.denied)} denied, ${num(b.rateLimited)} rate-limited</title>
          <rect class="bar ok" x=${x} width=${bar} y=${base - h(ok)} height=${h(ok)}></rect>
          <rect class="bar denied" x=${x} width=${bar} y=${base - h(b.requests)} height=${h(b.denied)}></rect>
          <rect class="bar limited" x=${x} width=${bar} y=${base - h(b.requests) + h(b.denied)} height=${h(b.rateLimited)}></rect></g>`;
      })}
    </svg>
    <div class="legend"><span class="key ok">allowed / passed</span><span class="key denied">denied</span><span class="key limited">rate-limited</span></div>
  </figure>`;
}

const bucketWord = (f: Frame) => {
  const s = f.buckets.length > 1 ? (Date.parse(f.buckets[1]!.start) - Date.parse(f.buckets[0]!.start)) / 1000 : 60;
  return s === 60 ? 'minute' : s === 3600 ? 'hour' : s === 86400 ? 'day' : `${s / 60} minutes`;
};

function latencyChart(f: Frame, rangeText: string): TemplateResult {
  const { buckets, w } = f;
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.p99Ms ?? 0)));
  const x = (i: number) => PAD.l + ((w - PAD.l - PAD.r) * (i + 0.5)) / buckets.length;
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  // A new subpath after every empty bucket: a gap stays a gap.
  const line = (pick: (b: Bucket) => number | null) => {
    let prev = -2;
    const parts: string[] = [];
    buckets.forEach((b, i) => {
      const v = pick(b);
      if (v === null) return;
      parts.push(`${i === prev + 1 ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      prev = i;
    });
    return parts.join(' ');
  };
  return html`<figure>
    <figcaption>Latency per ${bucketWord(f)} (p50 and p99, ms)</figcaption>
    <svg data-chart="latency" width=${w} height=${H} viewBox="0 0 ${w} ${H}" role="img" aria-label=${`p50 and p99 latency per ${bucketWord(f)}, ${rangeText}`}>
      ${axes(f, max)}
      <path class="line p99" d=${line((b) => b.p99Ms)}></path>
      <path class="line p50" d=${line((b) => b.p50Ms)}></path>
      ${buckets.map((b, i) =>
        b.p50Ms === null
          ? nothing
          : svg`<g><title>${hhmm(b.start)}: p50 ${b.p50Ms} ms, p99 ${b.p99Ms} ms</title>
              <circle class="dot p99" cx=${x(i)} cy=${y(b.p99Ms ?? 0)} r="2.5"></circle><circle class="dot p50" cx=${x(i)} cy=${y(b.p50Ms)} r="2.5"></circle></g>`,
      )}
    </svg>
    <div class="legend"><span class="key p50">p50</span><span class="key p99">p99</span></div>
  </figure>`;
}

function reasonsChart(reasons: Overview['denialsByReason']): TemplateResult {
  if (!reasons.length) return html`<p>No denials in this range.</p>`;
  const max = Math.max(...reasons.map((r) => r.count));
  return html`<ul class="hbars" aria-label="Denials by reason">
    ${reasons.map(
      (r) => html`<li><code>${r.reason}</code>
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar ${r.reason === 'rate_limited' ? 'limited' : 'denied'}" x="0" y="0" height="10" width=${(100 * r.count) / max}></rect></svg>
        <span>${num(r.count)}</span></li>`,
    )}
  </ul>`;
}

/** The audit-log filter each top list's value maps to. */
const TOP_LISTS: Array<[keyof Overview['top'], string, string]> = [
  ['users', 'Users', 'user'],
  ['tokens', 'Tokens', 'token'],
  ['clients', 'Clients', 'client'],
  ['paths', 'Paths', 'path'],
];

function topTable(name: string, filter: string, by: 'requests' | 'refusals', rows: OverviewTop['byRequests'], range: { from: string; to: string }): TemplateResult {
  const caption = `${name} by ${by}`;
  if (!rows.length) return html`<div class="top-list"><h3>${caption}</h3><p class="help">None in this range.</p></div>`;
  const link = (key: string) => `#/audit?${new URLSearchParams({ [filter]: key, from: localInput(range.from), to: localInput(range.to) })}`;
  return html`<div class="top-list"><h3>${caption}</h3>
    <table class="top" data-top=${`${filter}-${by}`}>
      <thead><tr><th scope="col">${name.replace(/s$/, '')}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Refusals</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><td class="key"><a href=${link(r.key)} title=${`Show in audit log: ${r.key}`}>${r.key}</a></td><td class="num">${num(r.requests)}</td><td class="num">${num(r.refusals)}</td></tr>`)}</tbody>
    </table></div>`;
}

const RANGES: Array<[Exclude<OverviewRange, 'custom'>, string, string]> = [
  ['1h', '1 h', 'the last hour'],
  ['24h', '24 h', 'the last 24 hours'],
  ['7d', '7 d', 'the last 7 days'],
];

export class OverviewPage extends LightElement {
  data: Overview | null = null;
  status: Status = null;
  range: OverviewRange = '1h';
  custom = { from: '', to: '' };
  private chartWidth = 0;
  private timer: number | undefined;
  private resize: ResizeObserver | undefined;
  private loading = 0;

  override connectedCallback(): void {
    super.connectedCallback();
    const q = hashQuery();
    const r = q.get('range');
    if (r && RANGES.some(([k]) => k === r)) this.range = r as OverviewRange;
    void this.load();
    this.timer = window.setInterval(() => void (this.range !== 'custom' && this.load()), 15_000);
    this.resize = new ResizeObserver(() => this.measure());
    this.resize.observe(this);
  }
  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.timer);
    this.resize?.disconnect();
  }
  /** The drawing width: the figure's inner width (the chart is drawn 1:1 in CSS pixels). */
  private measure() {
    const fig = this.querySelector<HTMLElement>('.charts figure');
    const w = fig ? Math.floor(fig.clientWidth - 2 * 10) : 0;
    if (w > 0 && Math.abs(w - this.chartWidth) > 1) {
      this.chartWidth = w;
      this.requestUpdate();
    }
  }
  override updated(): void {
    this.measure();
  }
  private query(): string {
    if (this.range !== 'custom') return `?range=${this.range}`;
    return `?${new URLSearchParams({ from: new Date(this.custom.from).toISOString(), to: new Date(this.custom.to).toISOString() })}`;
  }
  async load() {
    const mine = ++this.loading;
    try {
      const d = await get<Overview>(`/api/overview${this.query()}`);
      if (mine !== this.loading) return;
      this.data = d;
      this.status = null;
    } catch (e) {
      if (mine !== this.loading) return;
      this.status = { kind: 'error', text: errorText(e) };
    }
    this.requestUpdate();
  }
  private pick(r: OverviewRange) {
    this.range = r;
    if (r === 'custom') {
      if (!this.custom.from && this.data) this.custom = { from: localInput(this.data.from), to: localInput(this.data.to) };
      this.requestUpdate();
      return;
    }
    void this.load();
  }
  private applyCustom(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const from = (form.elements.namedItem('from') as HTMLInputElement).value;
    const to = (form.elements.namedItem('to') as HTMLInputElement).value;
    this.custom = { from, to };
    if (!from || !to || Number.isNaN(Date.parse(from)) || Number.isNaN(Date.parse(to))) {
      this.status = { kind: 'error', text: 'Give both a start and an end.' };
      this.requestUpdate();
      return;
    }
    if (Date.parse(to) <= Date.parse(from)) {
      this.status = { kind: 'error', text: 'The end must be after the start.' };
      this.requestUpdate();
      return;
    }
    void this.load();
  }
  private rangeText(d: Overview): string {
    const preset = RANGES.find(([k]) => k === d.range);
    return preset ? preset[2] : `${fullTime(d.from)} to ${fullTime(d.to)}`;
  }
  private picker(): TemplateResult {
    return html`<div class="range-picker" role="group" aria-label="Time range">
        ${RANGES.map(([k, label]) => html`<button type="button" class="small" aria-pressed=${String(this.range === k)} @click=${() => this.pick(k)}>${label}</button>`)}
        <button type="button" class="small" aria-pressed=${String(this.range === 'custom')} @click=${() => this.pick('custom')}>Custom</button>
        <button type="button" class="small" @click=${() => void this.load()}>Refresh</button>
      </div>
      ${this.range === 'custom'
        ? html`<form class="custom-range" @submit=${(e: Event) => this.applyCustom(e)}>
            <label>From (${zoneName()}) <input type="datetime-local" name="from" .value=${this.custom.from} required /></label>
            <label>To (${zoneName()}) <input type="datetime-local" name="to" .value=${this.custom.to} required /></label>
            <button type="submit" class="small">Show</button>
          </form>`
        : nothing}`;
  }
  override render(): TemplateResult {
    const d = this.data;
    const zone = d ? zoneName(new Date(d.from)) : '';
    const frame: Frame | null = d ? { w: Math.max(240, this.chartWidth || 700), buckets: d.buckets, days: Date.parse(d.to) - Date.parse(d.from) > 86_400_000 } : null;
    return html`<h1>Overview</h1>
      ${this.picker()}
      ${statusLine(this.status)}
      ${d && frame
        ? html`<p class="help" data-range=${d.range}>${this.rangeText(d).replace(/^t/, 'T')} (${fullTime(d.from)} – ${fullTime(d.to)} ${zone}), from the audit log.</p>
            <div class="cards">
              ${(
                [
                  ['Requests', d.totals.requests],
                  ['Allowed', d.totals.allowed],
                  ['Passed through', d.totals.passthrough],
                  ['Denied', d.totals.denied],
                  ['Rate-limited', d.totals.rateLimited],
                  ['Errors', d.totals.errors],
                ] as Array<[string, number]>
              ).map(([label, n]) => html`<div class="card" data-total=${label}><div class="n">${num(n)}</div><div>${label}</div></div>`)}
            </div>
            <div class="charts">${requestsChart(frame, this.rangeText(d))} ${latencyChart(frame, this.rangeText(d))}</div>
            <section aria-labelledby="top-h"><h2 id="top-h">Top users, tokens, clients and paths</h2>
              <div class="top-grid">
                ${TOP_LISTS.map(([key, name, filter]) => html`${topTable(name, filter, 'requests', d.top[key].byRequests, d)}${topTable(name, filter, 'refusals', d.top[key].byRefusals, d)}`)}
              </div>
            </section>
            <section aria-labelledby="reasons-h"><h2 id="reasons-h">Denials by reason</h2>${reasonsChart(d.denialsByReason)}</section>`
        : html`<p>Loading…</p>`}`;
  }
}
customElements.define('page-overview', OverviewPage);
