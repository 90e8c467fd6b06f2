// Tokens: pending token requests (approve / deny with a comment), search, create (the secret shown
// once, with a copy button), revoke.
import { html, nothing, svg, type TemplateResult } from 'lit';
import { api, ApiError, get, qs, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { cidrProblem } from '../cidr.js';
import { hashQuery, num, plural, whenZ } from '../format.js';
import type { ApiTokenView as TokenView, TokenRequestList, TokenRequestView, TokenUsageView } from '../../../src/admin/wire.js';

/** Fired on window after an approval or denial: the navigation's pending-count badge refreshes. */
export const TOKEN_REQUESTS_CHANGED = 'token-requests-changed';

const lines = (v: FormDataEntryValue | null) =>
  String(v ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
const short = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 16) : '—');

/** Usage is asked for the first this many tokens of the list (one request each). */
const USAGE_FOR = 50;

/** A token's requests per day as a small bar sparkline, with its numbers in words for a screen reader. */
export function sparkline(u: TokenUsageView): TemplateResult {
  const W = 120, H = 28;
  const max = Math.max(1, ...u.perDay.map((d) => d.requests));
  const bw = W / Math.max(1, u.perDay.length);
  const peak = u.perDay.reduce((a, b) => (b.requests > a.requests ? b : a), u.perDay[0] ?? { t: '', requests: 0 });
  const label = `${plural(u.requests, 'request')} in the last ${u.days} days${u.requests ? `, most on ${peak.t.slice(0, 10)} (${num(peak.requests)})` : ''}`;
  return html`<svg class="spark" viewBox="0 0 ${W} ${H}" width=${W} height=${H} role="img" aria-label=${label}>
    <line class="base" x1="0" x2=${W} y1=${H - 0.5} y2=${H - 0.5}></line>
    ${u.perDay.map((d, i) => {
      const h = d.requests ? Math.max(2, ((H - 2) * d.requests) / max) : 0;
      return svg`<rect class="bar ok" x=${i * bw + 0.5} width=${Math.max(1, bw - 1)} y=${H - 1 - h} height=${h}><title>${d.t.slice(0, 10)}: ${plural(d.requests, 'request')}</title></rect>`;
    })}
  </svg>`;
}

export class TokensPage extends LightElement {
  tokens: TokenView[] = [];
  q = '';
  statusFilter = '';
  created: (TokenView & { token: string; notice?: string }) | null = null;
  issues: Issue[] = [];
  status: Status = null;
  copied = false;
  ipProblem: string | null = null;
  /** Pending token requests (apiTokens.approval), newest first. */
  requests: TokenRequestView[] = [];
  /** The comment typed for each request, by id; and a problem to show beside it (deny without one). */
  comments = new Map<string, string>();
  commentErrors = new Map<string, string>();
  requestStatus: Status = null;
  /** GET /api/tokens/:id/usage answers, by token id. */
  usage = new Map<string, TokenUsageView>();
  private timer: number | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    // "#/tokens?q=tok_…": the audit log's token links open the list searched for that token.
    this.q = hashQuery().get('q') ?? '';
    void this.load();
    void this.loadRequests();
  }

  async loadRequests() {
    try {
      this.requests = (await get<TokenRequestList>('/api/token-requests?status=pending')).requests;
    } catch (e) {
      this.requestStatus = { kind: 'error', text: errorText(e) };
    }
    this.requestUpdate();
  }

  async decide(r: TokenRequestView, verb: 'approve' | 'deny') {
    const comment = (this.comments.get(r.id) ?? '').trim();
    this.commentErrors.delete(r.id);
    if (verb === 'deny' && !comment) {
      this.commentErrors.set(r.id, 'A comment is required to deny: the requester sees it.');
      this.requestUpdate();
      (this.querySelector(`#req-comment-${r.id}`) as HTMLInputElement | null)?.focus();
      return;
    }
    try {
      const done = await api<TokenRequestView>('POST', `/api/token-requests/${encodeURIComponent(r.id)}/${verb}`, comment ? { comment } : {});
      this.comments.delete(r.id);
      this.requestStatus = {
        kind: 'ok',
        text: done.status === 'approved' ? `Approved "${r.name}" for ${r.owner}: they can now claim the token.` : `Denied "${r.name}" for ${r.owner}.`,
      };
    } catch (e) {
      const issue = e instanceof ApiError ? e.issues.find((i) => i.path === 'comment') : undefined;
      if (issue) this.commentErrors.set(r.id, issue.message);
      else this.requestStatus = { kind: 'error', text: `Not ${verb === 'approve' ? 'approved' : 'denied'}: ${errorText(e)}` };
    }
    await this.loadRequests();
    window.dispatchEvent(new CustomEvent(TOKEN_REQUESTS_CHANGED));
  }

  private renderRequests(): TemplateResult {
    const scope = (r: TokenRequestView) =>
      [r.access === 'read' ? 'read-only' : 'read-write', r.paths.length ? `paths: ${r.paths.join(', ')}` : 'every path', ...(r.ipAllowlist.length ? [`from ${r.ipAllowlist.join(', ')}`] : [])].join('; ');
    return html`<section aria-labelledby="requests-h">
      <h2 id="requests-h">Pending requests</h2>
      <p class="help">Users ask here when apiTokens.approval requires it. Once approved, the owner claims the token (and sees its secret) themselves.</p>
      <div class="table-wrap" tabindex="0" role="region" aria-label="Pending requests"><table>
        <thead><tr><th scope="col">Owner</th><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Lifetime</th><th scope="col">Justification</th><th scope="col">Requested</th><th scope="col">Decision</th></tr></thead>
        <tbody>
          ${this.requests.length === 0 ? html`<tr><td colspan="7">No pending requests.</td></tr>` : nothing}
          ${this.requests.map((r) => {
            const err = this.commentErrors.get(r.id);
            const id = `req-comment-${r.id}`;
            return html`<tr data-request=${r.id}>
              <td>${r.owner}</td><td>${r.name}</td><td>${scope(r)}</td><td>${r.days === null ? 'maximum' : `${r.days} days`}</td>
              <td class="justification">${r.justification}</td><td>${short(r.createdAt)}</td>
              <td>
                <div class="field ${err ? 'invalid' : ''}">
                  <label for=${id}>Comment on "${r.name}" (${r.owner})</label>
                  <input id=${id} .value=${this.comments.get(r.id) ?? ''} aria-describedby=${`${id}-err`} aria-invalid=${err ? 'true' : 'false'}
                    @input=${(e: Event) => this.comments.set(r.id, (e.target as HTMLInputElement).value)} />
                  <div class="error" id=${`${id}-err`} role="alert">${err ?? nothing}</div>
                </div>
                <button type="button" class="small" aria-label=${`Approve ${r.name} of ${r.owner}`} @click=${() => void this.decide(r, 'approve')}>Approve</button>
                <button type="button" class="small danger" aria-label=${`Deny ${r.name} of ${r.owner}`} @click=${() => void this.decide(r, 'deny')}>Deny</button>
              </td>
            </tr>`;
          })}
        </tbody>
      </table></div>
      ${statusLine(this.requestStatus)}
    </section>`;
  }

  async load() {
    try {
      this.tokens = (await get<{ tokens: TokenView[] }>(`/api/tokens${qs({ q: this.q, status: this.statusFilter })}`)).tokens;
    } catch (e) {
      this.status = { kind: 'error', text: errorText(e) };
    }
    this.requestUpdate();
    void this.loadUsage();
  }

  /** Usage of the tokens shown (the first USAGE_FOR); a failure only leaves the sparkline out. */
  async loadUsage() {
    await Promise.all(
      this.tokens.slice(0, USAGE_FOR).map(async (t) => {
        try {
          this.usage.set(t.id, await get<TokenUsageView>(`/api/tokens/${encodeURIComponent(t.id)}/usage`));
        } catch {
          this.usage.delete(t.id);
        }
      }),
    );
    this.requestUpdate();
  }

  private usageCell(t: TokenView): TemplateResult {
    const u = this.usage.get(t.id);
    if (!u) return html`<span class="help">…</span>`;
    return html`<div class="usage" data-usage=${t.id}>${sparkline(u)}
      <div class="help"><span data-requests>${plural(u.requests, 'request')}</span>, <span data-refusals class=${u.refusals ? 'refused' : ''}>${num(u.refusals)} refused</span></div></div>`;
  }

  private search(v: string) {
    this.q = v;
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.load(), 200);
  }

  async create(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const d = new FormData(form);
    this.issues = [];
    this.copied = false;
    try {
      this.created = await api('POST', '/api/tokens', {
        owner: d.get('owner'),
        name: d.get('name'),
        access: d.get('access'),
        groups: lines(d.get('groups')),
        paths: lines(d.get('paths')),
        ipAllowlist: lines(d.get('ipAllowlist')),
        days: d.get('days') || undefined,
      });
      this.status = null;
      form.reset();
      await this.load();
      await this.updateComplete;
      (this.querySelector('#new-token') as HTMLInputElement | null)?.focus();
    } catch (err) {
      this.issues = err instanceof ApiError ? err.issues : [];
      this.status = { kind: 'error', text: `Not created: ${errorText(err)}` };
    }
    this.requestUpdate();
  }

  async copy() {
    const input = this.querySelector('#new-token') as HTMLInputElement | null;
    if (!this.created || !input) return;
    try {
      await navigator.clipboard.writeText(this.created.token);
    } catch {
      // No clipboard permission (e.g. plain http on another host): select it for Ctrl+C instead.
      input.select();
      document.execCommand?.('copy');
    }
    this.copied = true;
    this.requestUpdate();
  }

  /** A new secret with the same grants; the old one keeps working for a day (POST /api/tokens/:id/rotate). */
  async rotate(t: TokenView) {
    if (!confirm(`Rotate token "${t.name}" of ${t.owner}? A new secret is shown once; the old one keeps working for 24 hours, then is refused.`)) return;
    this.copied = false;
    try {
      const r = await api<TokenView & { token: string; rotatedFrom: TokenView }>('POST', `/api/tokens/${encodeURIComponent(t.id)}/rotate`, { overlapHours: 24 });
      this.created = r;
      this.status = { kind: 'ok', text: `Rotated ${t.id}: the new token is ${r.id}; the old secret works until ${new Date(r.rotatedFrom.expiresAt).toLocaleString()}.` };
    } catch (e) {
      this.status = { kind: 'error', text: errorText(e) };
    }
    await this.load();
    await this.updateComplete;
    (this.querySelector('#new-token') as HTMLInputElement | null)?.focus();
  }

  async revoke(t: TokenView) {
    if (!confirm(`Revoke token "${t.name}" of ${t.owner}? Calls with it fail at once.`)) return;
    try {
      await api('DELETE', `/api/tokens/${encodeURIComponent(t.id)}`);
      this.status = { kind: 'ok', text: `Revoked ${t.id}.` };
    } catch (e) {
      this.status = { kind: 'error', text: errorText(e) };
    }
    await this.load();
  }

  private field(name: string, label: string, control: TemplateResult, help?: string, local?: string | null): TemplateResult {
    const msgs = [...this.issues.filter((i) => i.path === name).map((i) => i.message), ...(local ? [local] : [])];
    return html`<div class="field ${msgs.length ? 'invalid' : ''}">
      <label for=${`tok-${name}`}>${label}</label>${control}
      ${help ? html`<div class="help" id=${`tok-${name}-help`}>${help}</div>` : nothing}
      <div class="error" id=${`tok-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>
    </div>`;
  }

  override render(): TemplateResult {
    const desc = (n: string) => `tok-${n}-help tok-${n}-err`;
    return html`<h1>Tokens</h1>
      ${this.renderRequests()}
      <section aria-labelledby="create-h">
        <h2 id="create-h">Create a token</h2>
        <form class="grid" @submit=${(e: Event) => void this.create(e)}>
          ${this.field('owner', 'Owner (Jira username)', html`<input id="tok-owner" name="owner" required aria-describedby=${desc('owner')} />`)}
          ${this.field('name', 'Name', html`<input id="tok-name" name="name" required aria-describedby=${desc('name')} />`, 'What the token is for.')}
          ${this.field(
            'access',
            'Access',
            html`<select id="tok-access" name="access" aria-describedby=${desc('access')}><option value="write">read-write</option><option value="read">read-only</option></select>`,
          )}
          ${this.field('days', 'Lifetime (days)', html`<input id="tok-days" name="days" type="number" min="1" aria-describedby=${desc('days')} />`, 'Empty: the maximum lifetime.')}
          ${this.field('groups', 'Groups', html`<textarea id="tok-groups" name="groups" rows="2" aria-describedby=${desc('groups')}></textarea>`, 'The groups the token acts with, one per line.')}
          ${this.field('paths', 'Paths', html`<textarea id="tok-paths" name="paths" rows="2" aria-describedby=${desc('paths')}></textarea>`, 'Empty: every path. "/rest/x", "/rest/x/*" or "GET /rest/x".')}
          ${this.field(
            'ipAllowlist',
            'IP allow-list',
            html`<textarea id="tok-ipAllowlist" name="ipAllowlist" rows="2" aria-describedby=${desc('ipAllowlist')}
              @input=${(e: Event) => {
                this.ipProblem = lines((e.target as HTMLTextAreaElement).value).map(cidrProblem).find((x) => x !== null) ?? null;
                this.requestUpdate();
              }}></textarea>`,
            'Empty: any address.',
            this.ipProblem,
          )}
          <div class="actions"><button type="submit" class="primary">Create token</button></div>
        </form>
        ${this.created
          ? html`<div class="secret-once" role="status">
              <p><strong>Token created for ${this.created.owner}.</strong> Copy it now: it is shown only once.${this.created.notice ? ` (${this.created.notice})` : ''}</p>
              <label for="new-token">New token</label>
              <input id="new-token" readonly .value=${this.created.token} @focus=${(e: Event) => (e.target as HTMLInputElement).select()} />
              <button type="button" @click=${() => void this.copy()}>Copy</button>
              ${this.copied ? html`<span role="status">Copied.</span>` : nothing}
              <button type="button" class="small" @click=${() => ((this.created = null), this.requestUpdate())}>Done</button>
            </div>`
          : nothing}
        ${statusLine(this.status)}
      </section>
      <section aria-labelledby="list-h">
        <h2 id="list-h">Tokens</h2>
        <div class="filters">
          <div class="field"><label for="tok-search">Search</label><input id="tok-search" type="search" placeholder="id, owner or name" .value=${this.q} @input=${(e: Event) => this.search((e.target as HTMLInputElement).value)} /></div>
          <div class="field"><label for="tok-status">Status</label>
            <select id="tok-status" @change=${(e: Event) => ((this.statusFilter = (e.target as HTMLSelectElement).value), void this.load())}>
              <option value="">any</option><option value="active">active</option><option value="expired">expired</option><option value="revoked">revoked</option>
            </select></div>
        </div>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Tokens"><table class="tokens">
          <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Owner</th><th scope="col">Access</th><th scope="col">Groups</th><th scope="col">Requests, last 30 days</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Id</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            ${this.tokens.length === 0 ? html`<tr><td colspan="10">No tokens.</td></tr>` : nothing}
            ${this.tokens.map(
              (t) => html`<tr data-token=${t.id}>
                <th scope="row" class="name">${t.name}</th>
                <td data-label="Status"><span class="badge ${t.status}">${t.status}</span></td>
                <td data-label="Owner">${t.owner}</td><td data-label="Access">${t.access === 'read' ? 'read-only' : 'read-write'}</td><td data-label="Groups">${t.groups.join(', ') || '—'}</td>
                <td data-label="Last 30 days">${this.usageCell(t)}</td>
                <td data-label="Last used" data-last-used><span>${t.lastUsedAt ? html`${whenZ(t.lastUsedAt)}${t.lastUsedIp ? html`<br /><span class="help">from ${t.lastUsedIp}</span>` : nothing}` : 'never'}</span></td>
                <td data-label="Expires">${whenZ(t.expiresAt)}</td><td data-label="Id"><code>${t.id}</code></td>
                <td data-label="Actions" class="token-actions"><a class="button small" href=${`#/audit${qs({ token: t.id })}`} aria-label=${`Show in audit log: ${t.name}`}>Show in audit log</a> ${t.status === 'active' ? html`<button type="button" class="small" aria-label=${`Rotate ${t.name}`} @click=${() => void this.rotate(t)}>Rotate</button> ` : nothing}${t.status === 'revoked'
                  ? nothing
                  : html`<button type="button" class="small danger" aria-label=${`Revoke ${t.name}`} @click=${() => void this.revoke(t)}>Revoke</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>
      </section>`;
  }
}
customElements.define('page-tokens', TokensPage);
