// Tokens: pending token requests (approve / deny with a comment), search, create in a dialog (the
// secret shown once on the page, with a copy button), a list sortable by name, owner, created,
// expires and last used and paged 25 at a time, edit
// (name, paths, IP allow-list, rate limit, extend) in a dialog, rotate, revoke.
import { html, nothing, svg, type TemplateResult } from 'lit';
import { live } from 'lit/directives/live.js';
import { api, ApiError, get, qs, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import { cidrProblem } from '../cidr.js';
import { formatRatePhrase, parseRatePhrase } from '../../../src/config/rate-phrase.js';
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

const DAY_MS = 86_400_000;

/** The columns the list sorts by (client-side: GET /api/tokens answers every matching token). */
export type SortKey = 'name' | 'owner' | 'created' | 'expires' | 'lastUsed';
const SORTS: Array<[SortKey, string]> = [
  ['name', 'Name'],
  ['owner', 'Owner'],
  ['created', 'Created'],
  ['expires', 'Expires'],
  ['lastUsed', 'Last used'],
];
const sortValue = (t: TokenView, k: SortKey): string | number => {
  switch (k) {
    case 'name':
      return t.name.toLowerCase();
    case 'owner':
      return t.owner.toLowerCase();
    case 'created':
      return Date.parse(t.createdAt);
    case 'expires':
      return Date.parse(t.expiresAt);
    case 'lastUsed':
      return t.lastUsedAt ? Date.parse(t.lastUsedAt) : -Infinity; // never used: oldest
  }
};

/** The edit dialog's fields, as the admin typed them. */
interface EditDraft {
  name: string;
  paths: string;
  ipAllowlist: string;
  points: string;
  durationSec: string;
  /** Days for "Extend"; the new expiry (ms) once "Extend" was pressed, sent with the save. */
  extendDays: string;
  expiresAt: number | null;
}

/** Tokens per page of the list (client-side: sorted first, then cut into pages). */
export const PAGE_SIZE = 25;

/** "1-25 of 120" (or "0 of 0"): the rows a page shows. */
export function pageRange(page: number, total: number, size = PAGE_SIZE): string {
  if (total === 0) return '0 of 0';
  const from = page * size + 1;
  return `${from}-${Math.min(total, from + size - 1)} of ${total}`;
}

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
  /** The list's order: a column and a direction (null: the server's order, newest first). */
  sortKey: SortKey | null = null;
  sortDir: 'asc' | 'desc' = 'asc';
  /** The token being edited (the dialog is open), what was typed, and the server's answer. */
  editing: TokenView | null = null;
  edit: EditDraft | null = null;
  editIssues: Issue[] = [];
  editStatus: Status = null;
  editSaving = false;
  editIpProblem: string | null = null;
  /** The token's rate limit as typed in words (null: the numbers, in words), and why it cannot be read. */
  editRateWords: string | null = null;
  editRateProblem: string | null = null;
  /** The create dialog is open; its problem line (the page's status line is behind the dialog). */
  createOpen = false;
  createStatus: Status = null;
  /** The list's page (0-based), PAGE_SIZE tokens each. */
  pageIndex = 0;

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
    void this.loadUsage(true);
  }

  /** Usage of the tokens on the page shown (all of them after a load, else those not asked yet); a failure only leaves the sparkline out. */
  async loadUsage(refresh = false) {
    await Promise.all(
      this.pageRows().filter((t) => refresh || !this.usage.has(t.id)).map(async (t) => {
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
    this.pageIndex = 0;
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.load(), 200);
  }

  openCreate() {
    this.createOpen = true;
    this.issues = [];
    this.createStatus = null;
    this.ipProblem = null;
    this.requestUpdate();
  }

  /** Closes the create dialog (Escape, Cancel); the focus goes back to the "Create a token" button. */
  private closeCreate() {
    if (!this.createOpen) return;
    this.createOpen = false;
    this.requestUpdate();
    void this.updateComplete.then(() => this.querySelector<HTMLElement>('#create-open')?.focus());
  }

  async create(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const d = new FormData(form);
    this.issues = [];
    this.copied = false;
    this.createStatus = { kind: 'info', text: 'Creating…' };
    this.requestUpdate();
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
      this.createStatus = null;
      this.createOpen = false;
      await this.load();
      await this.updateComplete;
      // The dialog is closed: the secret, shown once, is on the page with its copy button.
      (this.querySelector('#new-token') as HTMLInputElement | null)?.focus();
    } catch (err) {
      this.issues = err instanceof ApiError ? err.issues : [];
      this.createStatus = { kind: 'error', text: `Not created: ${errorText(err)}` };
      this.requestUpdate();
      await this.updateComplete;
      this.querySelector<HTMLElement>('dialog.create-token [aria-invalid="true"]')?.focus();
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

  /** Click on a column header: sort by it, or turn the direction round when it already sorts. */
  sortBy(k: SortKey) {
    if (this.sortKey === k) this.sortDir = this.sortDir === 'asc' ? 'desc' : 'asc';
    else {
      this.sortKey = k;
      this.sortDir = 'asc';
    }
    this.goToPage(0);
  }

  /** The number of pages (at least one, even for an empty list). */
  pageCount(): number {
    return Math.max(1, Math.ceil(this.tokens.length / PAGE_SIZE));
  }

  /** The tokens on the page shown: the whole list sorted, then cut. */
  pageRows(): TokenView[] {
    this.pageIndex = Math.min(Math.max(0, this.pageIndex), this.pageCount() - 1);
    return this.sorted().slice(this.pageIndex * PAGE_SIZE, (this.pageIndex + 1) * PAGE_SIZE);
  }

  goToPage(i: number) {
    this.pageIndex = i;
    this.requestUpdate();
    void this.loadUsage();
  }

  /** The tokens in the chosen order (a stable sort: equal values keep the server's order). */
  sorted(): TokenView[] {
    const k = this.sortKey;
    if (!k) return this.tokens;
    const dir = this.sortDir === 'asc' ? 1 : -1;
    return [...this.tokens].sort((a, b) => {
      const x = sortValue(a, k), y = sortValue(b, k);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
  }

  private sortHeader(k: SortKey, label: string): TemplateResult {
    const on = this.sortKey === k;
    const next = on && this.sortDir === 'asc' ? 'descending' : 'ascending';
    return html`<th scope="col" aria-sort=${on ? (this.sortDir === 'asc' ? 'ascending' : 'descending') : 'none'} data-sort=${k}>
      <button type="button" class="sort" title=${`Sort by ${label.toLowerCase()}, ${next}`} @click=${() => this.sortBy(k)}>${label}<span aria-hidden="true" class="sort-mark">${on ? (this.sortDir === 'asc' ? ' ▲' : ' ▼') : ''}</span></button>
    </th>`;
  }

  openEdit(t: TokenView) {
    this.editing = t;
    this.edit = {
      name: t.name,
      paths: t.paths.join('\n'),
      ipAllowlist: t.ipAllowlist.join('\n'),
      points: t.rateLimit ? String(t.rateLimit.points) : '',
      durationSec: t.rateLimit ? String(t.rateLimit.durationSec) : '',
      extendDays: '30',
      expiresAt: null,
    };
    this.editIssues = [];
    this.editStatus = null;
    this.editIpProblem = null;
    this.editRateWords = null;
    this.editRateProblem = null;
    this.requestUpdate();
  }

  /** Closes the dialog (Escape, Cancel, or after a save); the focus goes back to the token's Edit button. */
  private closeEdit() {
    const id = this.editing?.id;
    if (!id) return;
    this.editing = null;
    this.edit = null;
    this.requestUpdate();
    void this.updateComplete.then(() => this.querySelector<HTMLElement>(`button[data-edit="${CSS.escape(id)}"]`)?.focus());
  }

  override updated(): void {
    const c = this.querySelector<HTMLDialogElement>('dialog.create-token');
    if (c) {
      if (this.createOpen && !c.open) {
        c.showModal();
        this.querySelector<HTMLInputElement>('#tok-owner')?.focus();
      } else if (!this.createOpen && c.open) c.close();
    }
    const d = this.querySelector<HTMLDialogElement>('dialog.edit-token');
    if (!d) return;
    if (this.editing && !d.open) {
      d.showModal();
      this.querySelector<HTMLInputElement>('#edit-name')?.focus();
    } else if (!this.editing && d.open) d.close();
  }

  private extend() {
    const e = this.edit;
    if (!e) return;
    const days = Number(e.extendDays);
    this.editIssues = this.editIssues.filter((i) => i.path !== 'expiresAt');
    if (!Number.isFinite(days) || days <= 0) {
      this.editIssues = [...this.editIssues, { path: 'expiresAt', message: 'Extend by a positive number of days.' }];
      e.expiresAt = null;
    } else e.expiresAt = Date.now() + days * DAY_MS;
    this.requestUpdate();
  }

  async saveEdit(ev: Event) {
    ev.preventDefault();
    const t = this.editing, e = this.edit;
    if (!t || !e || this.editSaving) return;
    const body: Record<string, unknown> = {
      name: e.name,
      paths: lines(e.paths),
      ipAllowlist: lines(e.ipAllowlist),
      rateLimit: e.points.trim() === '' && e.durationSec.trim() === '' ? null : { points: Number(e.points), durationSec: Number(e.durationSec) },
    };
    if (e.expiresAt !== null) body.expiresAt = new Date(e.expiresAt).toISOString();
    this.editSaving = true;
    this.editStatus = { kind: 'info', text: 'Saving…' };
    this.requestUpdate();
    try {
      const after = await api<TokenView>('PATCH', `/api/tokens/${encodeURIComponent(t.id)}`, body);
      this.editSaving = false;
      this.status = { kind: 'ok', text: `Saved the changes to "${after.name}" (${after.id}); in effect from its next request.` };
      this.closeEdit();
      await this.load();
      return;
    } catch (err) {
      this.editIssues = err instanceof ApiError ? err.issues : [];
      this.editStatus = { kind: 'error', text: this.editIssues.length ? `Not saved: ${plural(this.editIssues.length, 'problem')}, shown beside ${this.editIssues.length === 1 ? 'its field' : 'their fields'}.` : `Not saved: ${errorText(err)}` };
    }
    this.editSaving = false;
    this.requestUpdate();
    await this.updateComplete;
    this.querySelector<HTMLElement>('dialog.edit-token [aria-invalid="true"]')?.focus();
  }

  private editField(name: string, label: string, control: TemplateResult, help?: string | TemplateResult, local?: string | null): TemplateResult {
    const msgs = [...this.editIssues.filter((i) => i.path === name || i.path.startsWith(`${name}.`) || i.path.startsWith(`${name}[`)).map((i) => i.message), ...(local ? [local] : [])];
    return html`<div class="field ${msgs.length ? 'invalid' : ''}" data-field=${name}>
      <label for=${`edit-${name}`}>${label}</label>${control}
      ${help ? html`<div class="help" id=${`edit-${name}-help`}>${help}</div>` : nothing}
      <div class="error" id=${`edit-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>
    </div>`;
  }

  private renderEdit(): TemplateResult {
    const t = this.editing, e = this.edit;
    const bad = (n: string) => (this.editIssues.some((i) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`)) ? 'true' : 'false');
    const desc = (n: string) => `edit-${n}-help edit-${n}-err`;
    const set = (k: keyof EditDraft) => (ev: Event) => {
      if (e) (e as unknown as Record<string, string>)[k] = (ev.target as HTMLInputElement).value;
    };
    // A number typed by hand: the words field shows the numbers again.
    const numbers = (k: 'points' | 'durationSec') => (ev: Event) => {
      set(k)(ev);
      this.editRateWords = null;
      this.editRateProblem = null;
      this.requestUpdate();
    };
    return html`<dialog class="edit-token" aria-labelledby="edit-h" @close=${() => this.closeEdit()}>
      ${t && e
        ? html`<form @submit=${(ev: Event) => void this.saveEdit(ev)} novalidate>
            <h2 id="edit-h">Edit token "${t.name}"</h2>
            <p class="help">${t.id}, owned by ${t.owner}. Changes apply from the token's next request; the secret stays the same.</p>
            ${this.editField('name', 'Name', html`<input id="edit-name" .value=${live(e.name)} required aria-describedby=${desc('name')} aria-invalid=${bad('name')} @input=${set('name')} />`)}
            ${this.editField('paths', 'Paths', html`<textarea id="edit-paths" rows="3" .value=${live(e.paths)} aria-describedby=${desc('paths')} aria-invalid=${bad('paths')} @input=${set('paths')}></textarea>`, 'One per line; empty: every path. "/rest/x", "/rest/x/*" or "GET /rest/x".')}
            ${this.editField(
              'ipAllowlist',
              'IP allow-list',
              html`<textarea id="edit-ipAllowlist" rows="3" .value=${live(e.ipAllowlist)} aria-describedby=${desc('ipAllowlist')} aria-invalid=${bad('ipAllowlist') === 'true' || this.editIpProblem ? 'true' : 'false'}
                @input=${(ev: Event) => {
                  set('ipAllowlist')(ev);
                  this.editIpProblem = lines(e.ipAllowlist).map(cidrProblem).find((x) => x !== null) ?? null;
                  this.requestUpdate();
                }}></textarea>`,
              'One address or CIDR per line; empty: any address.',
              this.editIpProblem,
            )}
            <fieldset class="rate" aria-describedby="edit-rateLimit-err">
              <legend>Rate limit of this token</legend>
              <div class="field"><label for="edit-rateWords">In words</label>
                <input id="edit-rateWords" placeholder="100 per minute" spellcheck="false" aria-describedby="edit-rateWords-err" aria-invalid=${this.editRateProblem ? 'true' : 'false'}
                  .value=${live(this.editRateWords ?? (e.points !== '' && e.durationSec !== '' && Number(e.points) >= 1 && Number(e.durationSec) >= 1 ? formatRatePhrase({ points: Number(e.points), durationSec: Number(e.durationSec) }) : ''))}
                  @input=${(ev: Event) => {
                    // "100 per minute" fills in the two numbers below, which are what is saved.
                    const text = (ev.target as HTMLInputElement).value;
                    const l = parseRatePhrase(text);
                    this.editRateWords = text;
                    this.editRateProblem = l || text.trim() === '' ? null : 'Write a rate limit like "100 per minute" (or "5 per second", "10 per 30 seconds").';
                    if (l) Object.assign(e, { points: String(l.points), durationSec: String(l.durationSec) });
                    else if (text.trim() === '') Object.assign(e, { points: '', durationSec: '' });
                    this.requestUpdate();
                  }} />
                <div class="error" id="edit-rateWords-err" role="alert">${this.editRateProblem ?? ''}</div>
              </div>
              <div class="inline">
                <div class="field num"><label for="edit-points">Requests</label><input id="edit-points" type="number" min="1" step="1" .value=${live(e.points)} aria-invalid=${bad('rateLimit')} @input=${numbers('points')} /></div>
                <div class="field num"><label for="edit-durationSec">per (seconds)</label><input id="edit-durationSec" type="number" min="1" step="1" .value=${live(e.durationSec)} aria-invalid=${bad('rateLimit')} @input=${numbers('durationSec')} /></div>
              </div>
              <div class="help">Both empty: no limit of its own (the global and group limits still apply).</div>
              <div class="error" id="edit-rateLimit-err" role="alert">${this.editIssues.filter((i) => i.path.startsWith('rateLimit')).map((i) => html`<div>${i.message}</div>`)}</div>
            </fieldset>
            ${this.editField(
              'extendDays',
              'Extend by (days from now)',
              html`<div class="inline"><input id="edit-extendDays" type="number" min="1" step="1" .value=${live(e.extendDays)} aria-describedby="edit-extendDays-help edit-expiresAt-err" aria-invalid=${bad('expiresAt')} @input=${set('extendDays')} />
                <button type="button" @click=${() => this.extend()}>Extend</button></div>`,
              html`Expires now: ${whenZ(t.expiresAt)}.${e.expiresAt !== null ? html` <strong data-new-expiry>New expiry: ${whenZ(new Date(e.expiresAt).toISOString())}</strong> (saved with the other changes).` : nothing}`,
            )}
            <div class="error" id="edit-expiresAt-err" role="alert">${this.editIssues.filter((i) => i.path === 'expiresAt').map((i) => html`<div>${i.message}</div>`)}</div>
            ${this.editIssues.some((i) => !['name', 'paths', 'ipAllowlist', 'rateLimit', 'expiresAt'].some((n) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`)))
              ? html`<ul class="error">${this.editIssues.filter((i) => !['name', 'paths', 'ipAllowlist', 'rateLimit', 'expiresAt'].some((n) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`))).map((i) => html`<li>${i.path}: ${i.message}</li>`)}</ul>`
              : nothing}
            ${statusLine(this.editStatus)}
            <div class="actions">
              <button type="submit" class="primary" ?disabled=${this.editSaving}>Save changes</button>
              <button type="button" @click=${() => this.closeEdit()}>Cancel</button>
            </div>
          </form>`
        : nothing}
    </dialog>`;
  }

  private field(name: string, label: string, control: TemplateResult, help?: string, local?: string | null): TemplateResult {
    const msgs = [...this.issues.filter((i) => i.path === name || i.path.startsWith(`${name}.`) || i.path.startsWith(`${name}[`)).map((i) => i.message), ...(local ? [local] : [])];
    return html`<div class="field ${msgs.length ? 'invalid' : ''}" data-field=${name}>
      <label for=${`tok-${name}`}>${label}</label>${control}
      ${help ? html`<div class="help" id=${`tok-${name}-help`}>${help}</div>` : nothing}
      <div class="error" id=${`tok-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>
    </div>`;
  }

  private renderCreate(): TemplateResult {
    const desc = (n: string) => `tok-${n}-help tok-${n}-err`;
    const bad = (n: string) => (this.issues.some((i) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`)) ? 'true' : 'false');
    return html`<dialog class="create-token" aria-labelledby="create-h" @close=${() => this.closeCreate()}>
      ${this.createOpen
        ? html`<form @submit=${(e: Event) => void this.create(e)} novalidate>
            <h2 id="create-h">Create a token</h2>
            <p class="help">The secret is shown once, on the page, after the token is created.</p>
            ${this.field('owner', 'Owner (Jira username)', html`<input id="tok-owner" name="owner" required aria-describedby=${desc('owner')} aria-invalid=${bad('owner')} />`)}
            ${this.field('name', 'Name', html`<input id="tok-name" name="name" required aria-describedby=${desc('name')} aria-invalid=${bad('name')} />`, 'What the token is for.')}
            ${this.field(
              'access',
              'Access',
              html`<select id="tok-access" name="access" aria-describedby=${desc('access')} aria-invalid=${bad('access')}><option value="write">read-write</option><option value="read">read-only</option></select>`,
            )}
            ${this.field('days', 'Lifetime (days)', html`<input id="tok-days" name="days" type="number" min="1" aria-describedby=${desc('days')} aria-invalid=${bad('days')} />`, 'Empty: the maximum lifetime.')}
            ${this.field('groups', 'Groups', html`<textarea id="tok-groups" name="groups" rows="2" aria-describedby=${desc('groups')} aria-invalid=${bad('groups')}></textarea>`, 'The groups the token acts with, one per line.')}
            ${this.field('paths', 'Paths', html`<textarea id="tok-paths" name="paths" rows="2" aria-describedby=${desc('paths')} aria-invalid=${bad('paths')}></textarea>`, 'Empty: every path. "/rest/x", "/rest/x/*" or "GET /rest/x".')}
            ${this.field(
              'ipAllowlist',
              'IP allow-list',
              html`<textarea id="tok-ipAllowlist" name="ipAllowlist" rows="2" aria-describedby=${desc('ipAllowlist')} aria-invalid=${bad('ipAllowlist') === 'true' || this.ipProblem ? 'true' : 'false'}
                @input=${(e: Event) => {
                  this.ipProblem = lines((e.target as HTMLTextAreaElement).value).map(cidrProblem).find((x) => x !== null) ?? null;
                  this.requestUpdate();
                }}></textarea>`,
              'Empty: any address.',
              this.ipProblem,
            )}
            ${this.issues.some((i) => !['owner', 'name', 'access', 'days', 'groups', 'paths', 'ipAllowlist'].some((n) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`)))
              ? html`<ul class="error">${this.issues.filter((i) => !['owner', 'name', 'access', 'days', 'groups', 'paths', 'ipAllowlist'].some((n) => i.path === n || i.path.startsWith(`${n}.`) || i.path.startsWith(`${n}[`))).map((i) => html`<li>${i.path ? `${i.path}: ` : ''}${i.message}</li>`)}</ul>`
              : nothing}
            ${statusLine(this.createStatus)}
            <div class="actions">
              <button type="submit" class="primary">Create token</button>
              <button type="button" @click=${() => this.closeCreate()}>Cancel</button>
            </div>
          </form>`
        : nothing}
    </dialog>`;
  }

  override render(): TemplateResult {
    const rows = this.pageRows();
    const total = this.tokens.length;
    const last = this.pageCount() - 1;
    return html`<h1>Tokens</h1>
      ${this.renderRequests()}
      <div class="create">
        <button type="button" id="create-open" class="primary" @click=${() => this.openCreate()}>Create a token</button>
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
      </div>
      <section aria-labelledby="list-h">
        <h2 id="list-h">Tokens</h2>
        <div class="filters">
          <div class="field"><label for="tok-search">Search</label><input id="tok-search" type="search" placeholder="id, owner or name" .value=${this.q} @input=${(e: Event) => this.search((e.target as HTMLInputElement).value)} /></div>
          <div class="field"><label for="tok-status">Status</label>
            <select id="tok-status" @change=${(e: Event) => ((this.statusFilter = (e.target as HTMLSelectElement).value), (this.pageIndex = 0), void this.load())}>
              <option value="">any</option><option value="active">active</option><option value="expired">expired</option><option value="revoked">revoked</option>
            </select></div>
          <div class="field"><label for="tok-sort">Sort by</label>
            <select id="tok-sort" .value=${live(this.sortKey ? `${this.sortKey}:${this.sortDir}` : '')} @change=${(e: Event) => {
              const [k, d] = (e.target as HTMLSelectElement).value.split(':') as [SortKey | '', 'asc' | 'desc' | undefined];
              this.sortKey = k || null;
              this.sortDir = d ?? 'asc';
              this.goToPage(0);
            }}>
              <option value="">newest first (as created)</option>
              ${SORTS.flatMap(([k, label]) => [html`<option value=${`${k}:asc`}>${label}, ascending</option>`, html`<option value=${`${k}:desc`}>${label}, descending</option>`])}
            </select></div>
        </div>
        <div class="table-wrap" tabindex="0" role="region" aria-label="Tokens"><table class="tokens">
          <thead><tr>${this.sortHeader('name', 'Name')}<th scope="col">Status</th>${this.sortHeader('owner', 'Owner')}<th scope="col">Access</th><th scope="col">Groups</th><th scope="col">Requests, last 30 days</th>${this.sortHeader('lastUsed', 'Last used')}${this.sortHeader('created', 'Created')}${this.sortHeader('expires', 'Expires')}<th scope="col">Id</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            ${this.tokens.length === 0 ? html`<tr><td colspan="11">No tokens.</td></tr>` : nothing}
            ${rows.map(
              (t) => html`<tr data-token=${t.id}>
                <th scope="row" class="name">${t.name}</th>
                <td data-label="Status"><span class="badge ${t.status}">${t.status}</span></td>
                <td data-label="Owner">${t.owner}</td><td data-label="Access">${t.access === 'read' ? 'read-only' : 'read-write'}</td><td data-label="Groups">${t.groups.join(', ') || '—'}</td>
                <td data-label="Last 30 days">${this.usageCell(t)}</td>
                <td data-label="Last used" data-last-used><span>${t.lastUsedAt ? html`${whenZ(t.lastUsedAt)}${t.lastUsedIp ? html`<br /><span class="help">from ${t.lastUsedIp}</span>` : nothing}` : 'never'}</span></td>
                <td data-label="Created" data-created>${whenZ(t.createdAt)}<br /><span class="help">by ${t.createdBy}</span></td>
                <td data-label="Expires" data-expires>${whenZ(t.expiresAt)}</td><td data-label="Id"><code>${t.id}</code></td>
                <td data-label="Actions" class="token-actions"><a class="button small" href=${`#/audit${qs({ token: t.id })}`} aria-label=${`Show in audit log: ${t.name}`}>Show in audit log</a> ${t.status === 'active' ? html`<button type="button" class="small" data-edit=${t.id} aria-label=${`Edit ${t.name}`} @click=${() => this.openEdit(t)}>Edit</button> <button type="button" class="small" aria-label=${`Rotate ${t.name}`} @click=${() => void this.rotate(t)}>Rotate</button> ` : nothing}${t.status === 'revoked'
                  ? nothing
                  : html`<button type="button" class="small danger" aria-label=${`Revoke ${t.name}`} @click=${() => void this.revoke(t)}>Revoke</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <div class="pager" role="navigation" aria-label="Token pages">
          <button type="button" ?disabled=${this.pageIndex <= 0} @click=${() => this.goToPage(this.pageIndex - 1)}>Previous</button>
          <span data-range aria-live="polite">${pageRange(this.pageIndex, total)}</span>
          <button type="button" ?disabled=${this.pageIndex >= last} @click=${() => this.goToPage(this.pageIndex + 1)}>Next</button>
        </div>
      </section>
      ${this.renderCreate()}
      ${this.renderEdit()}`;
  }
}
customElements.define('page-tokens', TokensPage);
