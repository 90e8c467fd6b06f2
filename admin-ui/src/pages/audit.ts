// Audit log: filters, keyset paging, row detail, CSV/NDJSON export of the filtered rows. The filters
// are also read from the location hash ("#/audit?credentialKind=basic", "#/audit?wouldDeny=read_only":
// the Readiness page links here) and written back to it when applied, so a filtered view has a link.
import { html, nothing, type TemplateResult } from 'lit';
import { ApiError, get, qs, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { hashQuery, num, whenZ, zoneName } from '../format.js';
import type { AuditEntryView, AuditPageView } from '../../../src/admin/wire.js';

type Entry = AuditEntryView;

const FILTERS: Array<[string, string, string]> = [
  ['user', 'User', ''],
  ['client', 'Client id', ''],
  ['token', 'Token id', 'tok_…'],
  ['ip', 'Client address', '10.0.0.5'],
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

/** Each filter's name in words (the error summary names the bad ones). */
const FILTER_LABELS: Record<string, string> = {
  from: 'From',
  to: 'To',
  ...Object.fromEntries(FILTERS.map(([k, label]) => [k, label])),
  decision: 'Decision',
  credentialKind: 'Credential kind',
  wouldDeny: 'Would deny',
  limit: 'Rows per page',
  cursor: 'Page',
};

/** A row's fields in words, in the order the detail shows them. */
const FIELD_LABELS: Array<[keyof Entry, string]> = [
  ['time', 'Time'],
  ['decision', 'Decision'],
  ['status', 'Status sent'],
  ['reason', 'Reason'],
  ['wouldDeny', 'Would be refused by a report-only rule'],
  ['method', 'Method'],
  ['path', 'Path'],
  ['user', 'User'],
  ['credentialKind', 'Credential kind'],
  ['tokenId', 'API token'],
  ['clientId', 'Client (application) id'],
  ['issuer', 'Token issuer'],
  ['clientIp', 'Client address'],
  ['userAgent', 'User agent'],
  ['latencyMs', 'Time taken'],
  ['upstreamStatus', 'Jira answered'],
  ['route', 'Route'],
  ['stage', 'Decided at stage'],
  ['rule', 'Rule'],
  ['requestId', 'Request id'],
  ['replica', 'Written by replica'],
  ['id', 'Row number (per replica)'],
  ['facts', 'Decision facts'],
  ['prevHash', 'Previous hash'],
  ['rowHash', 'Row hash'],
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
  /** How many rows match (from the first page; kept while paging). */
  total: number | null = null;
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
      const r = await get<AuditPageView>(`/api/audit${qs({ ...this.query(), limit: 50, cursor: this.cursors[this.cursors.length - 1] })}`);
      this.items = r.items;
      this.nextCursor = r.nextCursor;
      if (r.total !== undefined) this.total = r.total;
      this.issues = [];
      this.status = null;
    } catch (e) {
      // Rows of an earlier search would read as the answer to this one: clear them.
      this.items = [];
      this.nextCursor = null;
      this.total = null;
      this.selected = null;
      this.issues = e instanceof ApiError ? e.issues : [];
      this.status = this.issues.length
        ? {
            kind: 'error',
            text: `Not searched: ${this.issues.length === 1 ? 'one filter needs' : `${this.issues.length} filters need`} fixing: ${this.issues.map((i) => `${FILTER_LABELS[i.path] ?? i.path} (${i.message})`).join('; ')}.`,
          }
        : { kind: 'error', text: `Could not read the audit log: ${errorText(e)}` };
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
    return html`<div class="error" id=${`a-${name}-err`} role="alert">${msgs.map((m) => html`<div>${FILTER_LABELS[name] ?? name}: ${m.message}</div>`)}</div>`;
  }

  private bad(name: string): 'true' | 'false' {
    return this.issues.some((i) => i.path === name) ? 'true' : 'false';
  }

  private select(e: Entry | null) {
    const was = this.selected;
    this.selected = e;
    this.requestUpdate();
    void this.updateComplete.then(() => {
      if (e) (this.querySelector('#row-h') as HTMLElement | null)?.focus();
      else if (was) (this.querySelector(`button[data-row="${was.replica}:${was.id}"]`) as HTMLElement | null)?.focus();
    });
  }

  /** One field's value: links where there is somewhere to go, times with their zone. */
  private value(k: keyof Entry, e: Entry): TemplateResult | string {
    const v = e[k];
    if (v === null || v === '') return '—';
    switch (k) {
      case 'time':
        return whenZ(e.time, true);
      case 'user':
        return html`<a href=${`#/audit${qs({ user: String(v) })}`} data-link="user">${v}</a> <span class="help">(this user's rows)</span>`;
      case 'tokenId':
        return html`<a href=${`#/tokens${qs({ q: String(v) })}`} data-link="token"><code>${v}</code></a> <span class="help">(on the Tokens page)</span>`;
      case 'clientIp':
        return html`<a href=${`#/audit${qs({ ip: String(v) })}`} data-link="ip">${v}</a>`;
      case 'clientId':
        return html`<a href=${`#/audit${qs({ client: String(v) })}`} data-link="client">${v}</a>`;
      case 'decision':
        return html`<span class="badge ${String(v)}">${v}</span>`;
      case 'latencyMs':
        return `${v} ms`;
      case 'facts':
      case 'prevHash':
      case 'rowHash':
      case 'requestId':
        return html`<code class="wrap">${v}</code>`;
      default:
        return String(v);
    }
  }

  private detail(e: Entry): TemplateResult {
    return html`<aside class="drawer" aria-labelledby="row-h" @keydown=${(ev: KeyboardEvent) => ev.key === 'Escape' && this.select(null)}>
      <div class="drawer-head">
        <h2 id="row-h" tabindex="-1">${e.method} ${e.status} · ${whenZ(e.time, true)}</h2>
        <button type="button" class="small" @click=${() => this.select(null)}>Close</button>
      </div>
      <dl class="facts">${FIELD_LABELS.map(([k, label]) => html`<dt>${label}</dt><dd data-field=${k}>${this.value(k, e)}</dd>`)}</dl>
    </aside>`;
  }

  override render(): TemplateResult {
    const f = this.filters;
    return html`<h1>Audit log</h1>
      <form class="filters" aria-label="Audit filters" @submit=${(e: Event) => this.apply(e)}>
        <div class="field"><label for="a-from">From</label><input id="a-from" name="from" type="datetime-local" .value=${f.from ?? ''} aria-describedby="a-from-err" aria-invalid=${this.bad('from')} />${this.err('from')}</div>
        <div class="field"><label for="a-to">To</label><input id="a-to" name="to" type="datetime-local" .value=${f.to ?? ''} aria-describedby="a-to-err" aria-invalid=${this.bad('to')} />${this.err('to')}</div>
        ${FILTERS.map(
          ([k, label, ph]) =>
            html`<div class="field"><label for=${`a-${k}`}>${label}</label><input id=${`a-${k}`} name=${k} placeholder=${ph} .value=${f[k] ?? ''} aria-describedby=${`a-${k}-err`} aria-invalid=${this.bad(k)} />${this.err(k)}</div>`,
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
        <div class="field"><label for="a-wouldDeny">Would deny (report-only)</label><input id="a-wouldDeny" name="wouldDeny" placeholder="any or read_only" .value=${f.wouldDeny ?? ''} aria-describedby="a-wouldDeny-err" aria-invalid=${this.bad('wouldDeny')} />${this.err('wouldDeny')}</div>
        <div class="actions">
          <button type="submit" class="primary">Apply filters</button>
          <a class="button" href=${this.exportHref('csv')} download>Export CSV</a>
          <a class="button" href=${this.exportHref('ndjson')} download>Export NDJSON</a>
        </div>
      </form>
      ${statusLine(this.status)}
      ${this.total !== null ? html`<p class="total" data-total=${this.total} role="status">${this.total === 1 ? '1 row matches' : `${num(this.total)} rows match`}${this.total > 50 ? `; showing ${num(this.items.length)} on page ${this.cursors.length}` : ''}.</p>` : nothing}
      <div class="audit-layout ${this.selected ? 'with-detail' : ''}">
      <div class="table-wrap" tabindex="0" role="region" aria-label="Audit rows"><table class="audit" aria-busy=${this.loading ? 'true' : 'false'}>
        <caption class="sr-only">Audit rows, newest first</caption>
        <thead><tr><th scope="col">Time (${zoneName()})</th><th scope="col">Decision</th><th scope="col">Status</th><th scope="col">Reason</th><th scope="col">Method</th><th scope="col">Path</th><th scope="col">User</th><th scope="col">Client address</th><th scope="col">Latency</th></tr></thead>
        <tbody>
          ${this.items.length === 0 && !this.loading ? html`<tr><td colspan="9">${this.issues.length ? 'Fix the filters above to search.' : 'No rows match.'}</td></tr>` : nothing}
          ${this.items.map(
            (e) => html`<tr class=${this.selected?.id === e.id && this.selected.replica === e.replica ? 'selected' : ''}>
              <td><button type="button" class="link" data-row=${`${e.replica}:${e.id}`} aria-label=${`${whenZ(e.time, true)}: details of request ${e.requestId}`} aria-expanded=${this.selected?.id === e.id && this.selected.replica === e.replica ? 'true' : 'false'} @click=${() => this.select(e)}>${whenZ(e.time, true)}</button></td>
              <td><span class="badge ${e.decision}">${e.decision}</span></td><td>${e.status}</td><td><code>${e.reason}</code>${e.wouldDeny ? html` <span class="badge would-deny" title="A rule in report mode would have refused it">would deny: ${e.wouldDeny}</span>` : nothing}</td><td>${e.method}</td>
              <td class="path">${e.path}</td><td>${e.user ?? '—'}</td><td>${e.clientIp}</td><td>${e.latencyMs} ms</td>
            </tr>`,
          )}
        </tbody>
      </table></div>
      ${this.selected ? this.detail(this.selected) : nothing}
      </div>
      <div class="pager">
        <button type="button" ?disabled=${this.cursors.length <= 1} @click=${() => this.page(-1)}>Newer</button>
        <span>Page ${this.cursors.length}</span>
        <button type="button" ?disabled=${!this.nextCursor} @click=${() => this.page(1)}>Older</button>
      </div>`;
  }
}
customElements.define('page-audit', AuditPage);
