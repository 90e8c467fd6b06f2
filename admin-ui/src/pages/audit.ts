// Audit log: filters, keyset paging, row detail, CSV/NDJSON export of the filtered rows.
import { html, nothing, type TemplateResult } from 'lit';
import { ApiError, get, qs, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import type { AuditEntryView } from '../../../src/admin/wire.js';

type Entry = AuditEntryView;

const FILTERS: Array<[string, string, string]> = [
  ['user', 'User', ''],
  ['client', 'Client id', ''],
  ['token', 'Token id', 'tok_…'],
  ['ip', 'Client IP', ''],
  ['status', 'Status', '403 or 4xx'],
  ['path', 'Path prefix', '/rest/api/2/'],
];

export class AuditPage extends LightElement {
  filters: Record<string, string> = {};
  items: Entry[] = [];
  cursors: Array<string | undefined> = [undefined];
  nextCursor: string | null = null;
  selected: Entry | null = null;
  issues: Issue[] = [];
  status: Status = null;
  loading = false;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  /** The filters as the API takes them (datetime-local is local time; the API wants an instant). */
  private query(): Record<string, string> {
    const q: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.filters)) {
      if (!v) continue;
      q[k] = k === 'from' || k === 'to' ? new Date(v).toISOString() : v;
    }
    return q;
  }

  async load() {
    this.loading = true;
    this.requestUpdate();
    try {
      const r = await get<{ items: Entry[]; nextCursor: string | null }>(`/api/audit${qs({ ...this.query(), limit: 50, cursor: this.cursors[this.cursors.length - 1] })}`);
      this.items = r.items;
      this.nextCursor = r.nextCursor;
      this.issues = [];
      this.status = null;
    } catch (e) {
      this.issues = e instanceof ApiError ? e.issues : [];
      this.status = { kind: 'error', text: errorText(e) };
    } finally {
      this.loading = false;
      this.requestUpdate();
    }
  }

  private apply(e: Event) {
    e.preventDefault();
    const d = new FormData(e.target as HTMLFormElement);
    this.filters = {};
    for (const [k, v] of d.entries()) if (typeof v === 'string' && v.trim()) this.filters[k] = v.trim();
    this.cursors = [undefined];
    this.selected = null;
    void this.load();
  }

  private page(dir: 1 | -1) {
    if (dir === 1 && this.nextCursor) this.cursors.push(this.nextCursor);
    if (dir === -1 && this.cursors.length > 1) this.cursors.pop();
    void this.load();
  }

  private exportHref(format: 'csv' | 'ndjson') {
    return `/api/audit/export${qs({ ...this.query(), format })}`;
  }

  private err(name: string) {
    const msgs = this.issues.filter((i) => i.path === name);
    return html`<div class="error" id=${`a-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m.message}</div>`)}</div>`;
  }

  private detail(e: Entry): TemplateResult {
    const rows: Array<[string, unknown]> = Object.entries(e);
    return html`<section class="detail" aria-labelledby="row-h">
      <h2 id="row-h">Request ${e.requestId}</h2>
      <dl class="facts">${rows.map(([k, v]) => html`<dt>${k}</dt><dd><code>${v === null ? '—' : String(v)}</code></dd>`)}</dl>
      <button type="button" class="small" @click=${() => ((this.selected = null), this.requestUpdate())}>Close</button>
    </section>`;
  }

  override render(): TemplateResult {
    const f = this.filters;
    return html`<h1>Audit log</h1>
      <form class="filters" aria-label="Audit filters" @submit=${(e: Event) => this.apply(e)}>
        <div class="field"><label for="a-from">From</label><input id="a-from" name="from" type="datetime-local" .value=${f.from ?? ''} aria-describedby="a-from-err" />${this.err('from')}</div>
        <div class="field"><label for="a-to">To</label><input id="a-to" name="to" type="datetime-local" .value=${f.to ?? ''} aria-describedby="a-to-err" />${this.err('to')}</div>
        ${FILTERS.map(
          ([k, label, ph]) =>
            html`<div class="field"><label for=${`a-${k}`}>${label}</label><input id=${`a-${k}`} name=${k} placeholder=${ph} .value=${f[k] ?? ''} aria-describedby=${`a-${k}-err`} />${this.err(k)}</div>`,
        )}
        <div class="field"><label for="a-decision">Decision</label>
          <select id="a-decision" name="decision">
            ${['', 'allow', 'deny', 'passthrough', 'error'].map((d) => html`<option value=${d} ?selected=${(f.decision ?? '') === d}>${d || 'any'}</option>`)}
          </select>${this.err('decision')}</div>
        <div class="actions">
          <button type="submit" class="primary">Apply filters</button>
          <a class="button" href=${this.exportHref('csv')} download>Export CSV</a>
          <a class="button" href=${this.exportHref('ndjson')} download>Export NDJSON</a>
        </div>
      </form>
      ${statusLine(this.status)}
      <div class="table-wrap"><table class="audit" aria-busy=${this.loading ? 'true' : 'false'}>
        <caption class="sr-only">Audit rows, newest first</caption>
        <thead><tr><th scope="col">Time</th><th scope="col">Decision</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Method</th><th scope="col">Path</th><th scope="col">User</th><th scope="col">Client IP</th><th scope="col">Latency</th></tr></thead>
        <tbody>
          ${this.items.length === 0 && !this.loading ? html`<tr><td colspan="9">No rows match.</td></tr>` : nothing}
          ${this.items.map(
            (e) => html`<tr class=${this.selected?.id === e.id && this.selected.replica === e.replica ? 'selected' : ''}>
              <td><button type="button" class="link" aria-label=${`Details of request ${e.requestId}`} @click=${() => ((this.selected = e), this.requestUpdate())}>${e.time.replace('T', ' ').slice(0, 19)}</button></td>
              <td><span class="badge ${e.decision}">${e.decision}</span></td><td>${e.status}</td><td><code>${e.reason}</code></td><td>${e.method}</td>
              <td class="path">${e.path}</td><td>${e.user ?? '—'}</td><td>${e.clientIp}</td><td>${e.latencyMs} ms</td>
            </tr>`,
          )}
        </tbody>
      </table></div>
      <div class="pager">
        <button type="button" ?disabled=${this.cursors.length <= 1} @click=${() => this.page(-1)}>Newer</button>
        <span>Page ${this.cursors.length}</span>
        <button type="button" ?disabled=${!this.nextCursor} @click=${() => this.page(1)}>Older</button>
      </div>
      ${this.selected ? this.detail(this.selected) : nothing}`;
  }
}
customElements.define('page-audit', AuditPage);
