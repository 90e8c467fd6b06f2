// The shell: session check, login form, navigation (hash routes), logout.
import { html, nothing, type TemplateResult } from 'lit';
import { api, ApiError, get, setCsrfToken, setUnauthorizedHandler } from './api.js';
import { errorText, LightElement } from './base.js';
import { TOKEN_REQUESTS_CHANGED } from './pages/tokens.js';
import type { TokenRequestList } from '../../src/admin/wire.js';
import { chooseTheme, currentTheme, onSystemThemeChange } from './theme.js';

/** How often the pending token-request count (the Tokens badge) is refreshed besides on navigation. */
const PENDING_POLL_MS = 60_000;

export const ROUTES: Array<{ hash: string; label: string; tag: string }> = [
  { hash: 'overview', label: 'Overview', tag: 'page-overview' },
  { hash: 'status', label: 'Status', tag: 'page-status' },
  { hash: 'authentication', label: 'Authentication', tag: 'page-authentication' },
  { hash: 'access', label: 'Access rules', tag: 'page-access' },
  { hash: 'readiness', label: 'Readiness', tag: 'page-readiness' },
  { hash: 'rate-limits', label: 'Rate limits', tag: 'page-rate-limits' },
  { hash: 'tokens', label: 'Tokens', tag: 'page-tokens' },
  { hash: 'test', label: 'Test a token', tag: 'page-test' },
  { hash: 'audit', label: 'Audit log', tag: 'page-audit' },
  { hash: 'activity', label: 'Admin activity', tag: 'page-activity' },
  { hash: 'settings', label: 'Settings', tag: 'page-settings' },
  { hash: 'raw-config', label: 'Raw configuration', tag: 'page-raw-config' },
  { hash: 'account', label: 'Account', tag: 'page-account' },
];

const current = () => {
  const h = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  return ROUTES.find((r) => r.hash === h) ?? ROUTES[0]!;
};

export class AdminApp extends LightElement {
  state: 'loading' | 'login' | 'ready' = 'loading';
  username = '';
  loginError = '';
  busy = false;
  route = current();
  /** Pending token requests: a badge on the Tokens entry (refreshed on navigation, after a decision, and every minute). */
  pendingRequests = 0;

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener(TOKEN_REQUESTS_CHANGED, () => void this.refreshPending());
    onSystemThemeChange(() => this.requestUpdate());
    window.setInterval(() => void this.refreshPending(), PENDING_POLL_MS);
    window.addEventListener('hashchange', () => {
      void this.refreshPending();
      this.route = current();
      this.requestUpdate();
      void this.updateComplete.then(() => (this.querySelector('main') as HTMLElement | null)?.focus());
    });
    setUnauthorizedHandler(() => {
      if (this.state === 'ready') {
        this.state = 'login';
        this.loginError = 'Your session ended; log in again.';
        this.requestUpdate();
      }
    });
    void this.checkSession();
  }

  private async refreshPending() {
    if (this.state !== 'ready') return;
    try {
      const n = (await get<TokenRequestList>('/api/token-requests?status=pending')).requests.length;
      if (n !== this.pendingRequests) {
        this.pendingRequests = n;
        this.requestUpdate();
      }
    } catch {
      // The badge is a hint: keep the last count (an ended session is handled by the 401 handler).
    }
  }

  private async checkSession() {
    try {
      const s = await get<{ username: string; csrfToken: string | null }>('/api/session');
      setCsrfToken(s.csrfToken);
      this.username = s.username;
      this.state = 'ready';
      void this.refreshPending();
    } catch {
      this.state = 'login';
    }
    this.requestUpdate();
  }

  private async login(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    this.busy = true;
    this.loginError = '';
    this.requestUpdate();
    try {
      const r = await api<{ username: string; csrfToken: string }>('POST', '/api/login', { username: String(data.get('username') ?? ''), password: String(data.get('password') ?? '') });
      setCsrfToken(r.csrfToken);
      this.username = r.username;
      this.state = 'ready';
      void this.refreshPending();
    } catch (err) {
      this.loginError =
        err instanceof ApiError && err.code === 'login_failed'
          ? 'Wrong username or password.'
          : err instanceof ApiError && err.code === 'login_throttled'
            ? 'Too many failed attempts. Wait a while, then try again.'
            : errorText(err);
    } finally {
      this.busy = false;
      this.requestUpdate();
    }
  }

  private async logout() {
    try {
      await api('POST', '/api/logout', {});
    } finally {
      setCsrfToken(null);
      this.state = 'login';
      this.requestUpdate();
    }
  }

  private renderLogin(): TemplateResult {
    return html`<main class="login">
      <form @submit=${(e: Event) => void this.login(e)}>
        <h1>jira-auth-sidecar</h1>
        <p>Admin console</p>
        <div class="field"><label for="login-username">Username</label><input id="login-username" name="username" autocomplete="username" value="admin" required /></div>
        <div class="field"><label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required autofocus /></div>
        ${this.loginError ? html`<p class="status error" role="alert">${this.loginError}</p>` : nothing}
        <button type="submit" class="primary" ?disabled=${this.busy}>Log in</button>
      </form>
    </main>`;
  }

  private page(): TemplateResult {
    // One element per route; switching routes builds a fresh page (and a fresh draft).
    switch (this.route.tag) {
      case 'page-overview':
        return html`<page-overview></page-overview>`;
      case 'page-status':
        return html`<page-status></page-status>`;
      case 'page-authentication':
        return html`<page-authentication></page-authentication>`;
      case 'page-access':
        return html`<page-access></page-access>`;
      case 'page-readiness':
        return html`<page-readiness></page-readiness>`;
      case 'page-rate-limits':
        return html`<page-rate-limits></page-rate-limits>`;
      case 'page-tokens':
        return html`<page-tokens></page-tokens>`;
      case 'page-test':
        return html`<page-test></page-test>`;
      case 'page-audit':
        return html`<page-audit></page-audit>`;
      case 'page-activity':
        return html`<page-activity></page-activity>`;
      case 'page-raw-config':
        return html`<page-raw-config></page-raw-config>`;
      case 'page-account':
        return html`<page-account></page-account>`;
      default:
        return html`<page-settings></page-settings>`;
    }
  }

  override render(): TemplateResult {
    if (this.state === 'loading') return html`<p class="loading">Loading…</p>`;
    if (this.state === 'login') return this.renderLogin();
    return html`<a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <span class="brand">jira-auth-sidecar</span>
        <span class="who">Signed in as <strong>${this.username}</strong></span>
        <button type="button" class="small theme" aria-pressed=${currentTheme() === 'dark' ? 'true' : 'false'} title="Dark mode (otherwise as your browser prefers)"
          @click=${() => {
            chooseTheme(currentTheme() === 'dark' ? 'light' : 'dark');
            this.requestUpdate();
          }}>Dark mode</button>
        <button type="button" class="small" @click=${() => void this.logout()}>Log out</button>
      </header>
      <div class="layout">
        <nav aria-label="Sections">
          <ul>
            ${ROUTES.map(
              (r) =>
                html`<li><a href=${`#/${r.hash}`} aria-current=${r === this.route ? 'page' : 'false'}>${r.label}${r.hash === 'tokens' && this.pendingRequests > 0
                  ? html` <span class="badge pending" data-pending-requests=${this.pendingRequests}>${this.pendingRequests}</span><span class="sr-only"> (${this.pendingRequests} pending ${this.pendingRequests === 1 ? 'request' : 'requests'})</span>`
                  : nothing}</a></li>`,
            )}
          </ul>
        </nav>
        <main id="main" tabindex="-1">${this.page()}</main>
      </div>`;
  }
}
customElements.define('admin-app', AdminApp);
