// Admin activity: who changed what (logins, configuration, tokens, keys), before/after with secrets masked.
import { html, nothing, type TemplateResult } from 'lit';
import { get, qs } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import type { AdminAuditEntry as Item } from '../../../src/admin/wire.js';

export class ActivityPage extends LightElement {
  items: Item[] = [];
  cursors: Array<string | undefined> = [undefined];
  nextCursor: string | null = null;
  status: Status = null;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }
  async load() {
    try {
      const r = await get<{ items: Item[]; nextCursor: string | null }>(`/api/admin-activity${qs({ limit: 50, cursor: this.cursors[this.cursors.length - 1] })}`);
      this.items = r.items;
      this.nextCursor = r.nextCursor;
    } catch (e) {
      this.status = { kind: 'error', text: errorText(e) };
    }
    this.requestUpdate();
  }
  private summary(i: Item): TemplateResult | typeof nothing {
    const changes = (i.after as { changes?: Array<{ path: string; before: unknown; after: unknown }> } | null)?.changes;
    if (Array.isArray(changes))
      return html`<ul class="changes">${changes.map((c) => html`<li><code>${c.path}</code>: <code>${JSON.stringify(c.before)}</code> → <code>${JSON.stringify(c.after)}</code></li>`)}</ul>`;
    if (i.before === null && i.after === null) return nothing;
    return html`<details><summary>Details</summary><pre>${JSON.stringify({ before: i.before, after: i.after }, null, 2)}</pre></details>`;
  }
  override render(): TemplateResult {
    return html`<h1>Admin activity</h1>
      ${statusLine(this.status)}
      <div class="table-wrap"><table>
        <thead><tr><th scope="col">Time</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Target</th><th scope="col">Change</th></tr></thead>
        <tbody>
          ${this.items.length === 0 ? html`<tr><td colspan="5">No admin activity yet.</td></tr>` : nothing}
          ${this.items.map(
            (i) => html`<tr><td>${i.time.replace('T', ' ').slice(0, 19)}</td><td>${i.actor}</td><td><code>${i.action}</code></td><td>${i.target ?? '—'}</td><td>${this.summary(i)}</td></tr>`,
          )}
        </tbody>
      </table></div>
      <div class="pager">
        <button type="button" ?disabled=${this.cursors.length <= 1} @click=${() => (this.cursors.pop(), void this.load())}>Newer</button>
        <span>Page ${this.cursors.length}</span>
        <button type="button" ?disabled=${!this.nextCursor} @click=${() => (this.cursors.push(this.nextCursor!), void this.load())}>Older</button>
      </div>`;
  }
}
customElements.define('page-activity', ActivityPage);
