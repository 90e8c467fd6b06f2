// Overview: the last hour from the audit log, per minute: requests (denied and rate-limited
// stacked), p50/p99 latency, and denials by reason. Plain SVG; refreshed every 15 s.
import { html, nothing, svg, type SVGTemplateResult, type TemplateResult } from 'lit';
import { get } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import type { Overview, OverviewBucket as Bucket } from '../../../src/admin/wire.js';

const W = 720;
const H = 180;
const PAD = { l: 44, r: 8, t: 8, b: 22 };
const hhmm = (iso: string) => new Date(iso).toTimeString().slice(0, 5);

/** A round upper bound for the axis (1, 2, 5 × 10^n), so the three ticks read as whole numbers. */
function niceMax(v: number): number {
  if (v <= 2) return 2;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

function axes(max: number, buckets: Bucket[]): SVGTemplateResult {
  const ticks = [0, max / 2, max];
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  return svg`${ticks.map(
    (t) => svg`<line class="grid" x1=${PAD.l} x2=${W - PAD.r} y1=${y(t)} y2=${y(t)}></line>
      <text class="tick" x=${PAD.l - 4} y=${y(t) + 4} text-anchor="end">${t}</text>`,
  )}
  ${[0, 15, 30, 45, 59].map((i) => {
    const b = buckets[i];
    const x = PAD.l + ((W - PAD.l - PAD.r) * (i + 0.5)) / buckets.length;
    return b ? svg`<text class="tick" x=${x} y=${H - 6} text-anchor="middle">${hhmm(b.start)}</text>` : nothing;
  })}`;
}

function requestsChart(buckets: Bucket[]): TemplateResult {
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.requests)));
  const bw = (W - PAD.l - PAD.r) / buckets.length;
  const h = (v: number) => ((H - PAD.t - PAD.b) * v) / max;
  const base = H - PAD.b;
  const total = buckets.reduce((a, b) => a + b.requests, 0);
  return html`<figure>
    <figcaption>Requests per minute (denied and rate-limited highlighted)</figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${`Requests per minute over the last hour; ${total} in total.`}>
      ${axes(max, buckets)}
      ${buckets.map((b, i) => {
        const x = PAD.l + i * bw + 1;
        const ok = b.requests - b.denied;
        return svg`<g><title>${hhmm(b.start)}: ${b.requests} requests, ${b.denied} denied, ${b.rateLimited} rate-limited</title>
          <rect class="bar ok" x=${x} width=${Math.max(1, bw - 2)} y=${base - h(ok)} height=${h(ok)}></rect>
          <rect class="bar denied" x=${x} width=${Math.max(1, bw - 2)} y=${base - h(b.requests)} height=${h(b.denied - b.rateLimited)}></rect>
          <rect class="bar limited" x=${x} width=${Math.max(1, bw - 2)} y=${base - h(b.requests) + h(b.denied - b.rateLimited)} height=${h(b.rateLimited)}></rect></g>`;
      })}
    </svg>
    <div class="legend"><span class="key ok">allowed / passed</span><span class="key denied">denied</span><span class="key limited">rate-limited</span></div>
  </figure>`;
}

function latencyChart(buckets: Bucket[]): TemplateResult {
  const max = niceMax(Math.max(0, ...buckets.map((b) => b.p99Ms ?? 0)));
  const x = (i: number) => PAD.l + ((W - PAD.l - PAD.r) * (i + 0.5)) / buckets.length;
  const y = (v: number) => PAD.t + (H - PAD.t - PAD.b) * (1 - v / max);
  const line = (pick: (b: Bucket) => number | null) =>
    buckets
      .map((b, i) => [i, pick(b)] as const)
      .filter(([, v]) => v !== null)
      .map(([i, v], n) => `${n ? 'L' : 'M'}${x(i).toFixed(1)},${y(v!).toFixed(1)}`)
      .join(' ');
  return html`<figure>
    <figcaption>Latency per minute (p50 and p99, ms)</figcaption>
    <svg viewBox="0 0 ${W} ${H}" role="img" aria-label="p50 and p99 latency per minute over the last hour">
      ${axes(max, buckets)}
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
  if (!reasons.length) return html`<p>No denials in the last hour.</p>`;
  const max = Math.max(...reasons.map((r) => r.count));
  return html`<ul class="hbars" aria-label="Denials by reason">
    ${reasons.map(
      (r) => html`<li><code>${r.reason}</code>
        <svg viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true"><rect class="bar denied" x="0" y="0" height="10" width=${(100 * r.count) / max}></rect></svg>
        <span>${r.count}</span></li>`,
    )}
  </ul>`;
}

export class OverviewPage extends LightElement {
  data: Overview | null = null;
  status: Status = null;
  private timer: number | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    this.timer = window.setInterval(() => void this.load(), 15_000);
  }
  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.timer);
  }
  async load() {
    try {
      this.data = await get<Overview>('/api/overview');
      this.status = null;
    } catch (e) {
      this.status = { kind: 'error', text: errorText(e) };
    }
    this.requestUpdate();
  }
  override render(): TemplateResult {
    const d = this.data;
    return html`<h1>Overview</h1>
      ${statusLine(this.status)}
      ${d
        ? html`<p class="help">Last hour (${hhmm(d.from)}–${hhmm(d.to)}), from the audit log. <button type="button" class="small" @click=${() => void this.load()}>Refresh</button></p>
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
              ).map(([label, n]) => html`<div class="card"><div class="n">${n}</div><div>${label}</div></div>`)}
            </div>
            <div class="charts">${requestsChart(d.buckets)} ${latencyChart(d.buckets)}</div>
            <section aria-labelledby="reasons-h"><h2 id="reasons-h">Denials by reason</h2>${reasonsChart(d.denialsByReason)}</section>`
        : html`<p>Loading…</p>`}`;
  }
}
customElements.define('page-overview', OverviewPage);
