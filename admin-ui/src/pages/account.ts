// Account: the signed-in admin's password, and the admin API keys scripts use (with an empty state
// while there are none).
import { html, nothing, type TemplateResult } from 'lit';
import { api, ApiError, get, setCsrfToken, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';
import type { AdminApiKey as AdminKey } from '../../../src/admin/wire.js';

const when = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');

/** The admin account: change password; admin API keys for scripts. */
export class AccountPage extends LightElement {
  keys: AdminKey[] = [];
  /** False until the first answer of GET /api/admin-keys (no empty state before that). */
  loaded = false;
  newKey: string | null = null;
  pwStatus: Status = null;
  pwIssues: Issue[] = [];
  keyStatus: Status = null;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.loadKeys();
  }
  async loadKeys() {
    try {
      this.keys = (await get<{ keys: AdminKey[] }>('/api/admin-keys')).keys;
      this.loaded = true;
    } catch (e) {
      this.keyStatus = { kind: 'error', text: `Admin API keys not loaded: ${errorText(e)}` };
    }
    this.requestUpdate();
  }
  async changePassword(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const d = new FormData(form);
    if (d.get('newPassword') !== d.get('repeatPassword')) {
      this.pwIssues = [{ path: 'repeatPassword', message: 'does not match the new password' }];
      this.requestUpdate();
      return;
    }
    try {
      const r = await api<{ csrfToken: string }>('POST', '/api/password', { currentPassword: d.get('currentPassword'), newPassword: d.get('newPassword') });
      setCsrfToken(r.csrfToken);
      this.pwIssues = [];
      this.pwStatus = { kind: 'ok', text: 'Password changed. Other sessions were logged out.' };
      form.reset();
    } catch (err) {
      this.pwIssues = err instanceof ApiError ? err.issues : [];
      this.pwStatus = { kind: 'error', text: `Not changed: ${errorText(err)}` };
    }
    this.requestUpdate();
  }
  async createKey(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const d = new FormData(form);
    try {
      const r = await api<{ key: string }>('POST', '/api/admin-keys', { name: d.get('name'), expiresInDays: d.get('days') || undefined });
      this.newKey = r.key;
      this.keyStatus = null;
      form.reset();
      await this.loadKeys();
    } catch (err) {
      this.keyStatus = { kind: 'error', text: errorText(err) };
    }
    this.requestUpdate();
  }
  async revoke(k: AdminKey) {
    if (!confirm(`Revoke admin API key "${k.name}"?`)) return;
    await api('DELETE', `/api/admin-keys/${encodeURIComponent(k.id)}`);
    await this.loadKeys();
  }
  private pwField(name: string, label: string, auto: string) {
    const msgs = this.pwIssues.filter((i) => i.path === name);
    return html`<div class="field ${msgs.length ? 'invalid' : ''}"><label for=${`pw-${name}`}>${label}</label>
      <input id=${`pw-${name}`} name=${name} type="password" autocomplete=${auto} required aria-describedby=${`pw-${name}-err`} aria-invalid=${msgs.length ? 'true' : 'false'} />
      <div class="error" id=${`pw-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m.message}</div>`)}</div></div>`;
  }
  private renderKeys(): TemplateResult | typeof nothing {
    if (!this.loaded) return nothing;
    if (this.keys.length === 0) {
      return html`<div class="empty-state" data-empty="admin-keys">
        <p><strong>No admin API keys yet.</strong></p>
        <p class="help">A key lets a script (CI, provisioning) call the admin API without a password or session. Create one above, or run <code>jira-auth-sidecar admin create-key --name ci</code>.</p>
      </div>`;
    }
    return html`<div class="table-wrap" tabindex="0" role="region" aria-label="Admin API keys"><table>
      <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${this.keys.map(
          (k) => html`<tr>
            <td>${k.name}</td><td><code>${k.hint}…</code></td><td>${when(k.createdAt)} by ${k.createdBy}</td><td>${when(k.lastUsedAt)}</td><td>${when(k.expiresAt)}</td>
            <td>${k.revokedAt ? 'revoked' : 'active'}</td>
            <td>${k.revokedAt ? nothing : html`<button type="button" class="small danger" aria-label=${`Revoke ${k.name}`} @click=${() => void this.revoke(k)}>Revoke</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table></div>`;
  }
  override render(): TemplateResult {
    return html`<h1>Account</h1>
      <section aria-labelledby="pw-h">
        <h2 id="pw-h">Change password</h2>
        <form class="inline" @submit=${(e: Event) => void this.changePassword(e)}>
          ${this.pwField('currentPassword', 'Current password', 'current-password')} ${this.pwField('newPassword', 'New password (12+ characters)', 'new-password')}
          ${this.pwField('repeatPassword', 'Repeat new password', 'new-password')}
          <button type="submit">Change password</button>
        </form>
        ${statusLine(this.pwStatus)}
      </section>
      <section aria-labelledby="keys-h">
        <h2 id="keys-h">Admin API keys</h2>
        <p class="help">For scripts: <code>Authorization: Bearer &lt;key&gt;</code> (no CSRF token needed).</p>
        <form class="inline" @submit=${(e: Event) => void this.createKey(e)}>
          <div class="field"><label for="key-name">Key name</label><input id="key-name" name="name" required /></div>
          <div class="field num"><label for="key-days">Expires after (days)</label><input id="key-days" name="days" type="number" min="1" /></div>
          <button type="submit">Create key</button>
        </form>
        ${statusLine(this.keyStatus)}
        ${this.newKey
          ? html`<div class="secret-once" role="status"><p>Copy this key now; it is not shown again.</p>
              <input readonly .value=${this.newKey} aria-label="New admin API key" />
              <button type="button" @click=${() => void navigator.clipboard?.writeText(this.newKey ?? '')}>Copy</button></div>`
          : nothing}
        ${this.renderKeys()}
      </section>`;
  }
}
customElements.define('page-account', AccountPage);
