// Audit log: filters, keyset paging, row detail, CSV/NDJSON export of the filtered rows. The filters
// are also read from the location hash ("#/audit?credentialKind=basic", "#/audit?wouldDeny=read_only":
// the Readiness page links here) and written back to it when applied, so a filtered view has a link.
import { html, nothing, type TemplateResult } from 'lit';
import { ApiError, get, qs, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { hashQuery } from '../format.js';
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

/** Credential kinds as audit rows name them (the credentialKind filter). */
const CREDENTIAL_KINDS: Array<[string, string]> = [
  ['', 'any'],
  ['basic', 'basic (Jira password)'],
  ['jira-pat', 'jira-pat (personal access token)'],
  ['oauth1', 'oauth1 (application link)'],
  ['opaque-bearer', "opaque-bearer (Jira's OAuth 2.0)"],
  ['session', 'session (Jira cookie)'],
  ['anonymous', 'anonymous'],
  ['jwt', 'jwt'],
  ['api-token', 'api-token (sidecar token)'],
];

/** Every filter the page sends (and accepts from the hash). */
const FILTER_KEYS = ['from', 'to', ...FILTERS.map(([k]) => k), 'decision', 'credentialKind', 'wouldDeny'];

function filtersFromHash(): Record<string, string> {
  const q = hashQuery();
  const f: Record<string, string> = {};
  for (const k of FILTER_KEYS) {
    const v = q.get(k)?.trim();
    if (v) f[k] = v;
  }
  return f;
}

export class AuditPage extends LightElement {
  filters: Record<string, string> = {};
  items: Entry[] = [];
  cursors: Array<string | undefined> = [undefined];
  nextCursor: string | null = null;
  selected: Entry | null = null;
  issues: Issue[] = [];
  status: Status = null;
  loading = false;

  private readonly onHash = () => {
    // Only while this page is the route (the shell swaps pages on the same event).
    if (!/^#\/?audit(\?|$)/.test(location.hash)) return;
    const next = filtersFromHash();
    if (JSON.stringify(next) === JSON.stringify(this.filters)) return;
    this.filters = next;
    this.cursors = [undefined];
    this.selected = null;
    void this.load();
  };

  override connectedCallback(): void {
    super.connectedCallback();
    this.filters = filtersFromHash();
    window.addEventListener('hashchange', this.onHash);
    void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('hashchange', this.onHash);
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
    // The filtered view gets a link of its own (replaceState: no hashchange, no history entry per apply).
    history.replaceState(null, '', `#/audit${qs(this.filters)}`);
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
        <div class="field"><label for="a-credentialKind">Credential kind</label>
          <select id="a-credentialKind" name="credentialKind" aria-describedby="a-credentialKind-err">
            ${CREDENTIAL_KINDS.map(([k, label]) => html`<option value=${k} ?selected=${(f.credentialKind ?? '') === k}>${label}</option>`)}
            ${f.credentialKind && !CREDENTIAL_KINDS.some(([k]) => k === f.credentialKind) ? html`<option value=${f.credentialKind} selected>${f.credentialKind}</option>` : nothing}
          </select>${this.err('credentialKind')}</div>
        <div class="field"><label for="a-wouldDeny">Would deny (report-only)</label><input id="a-wouldDeny" name="wouldDeny" placeholder="any or read_only" .value=${f.wouldDeny ?? ''} aria-describedby="a-wouldDeny-err" />${this.err('wouldDeny')}</div>
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
              <td><span class="badge ${e.decision}">${e.decision}</span></td><td>${e.status}</td><td><code>${e.reason}</code>${e.wouldDeny ? html` <span class="badge would-deny" title="A rule in report mode would have refused it">would deny: ${e.wouldDeny}</span>` : nothing}</td><td>${e.method}</td>
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
