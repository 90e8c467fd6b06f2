// Status: what /readyz and /metrics know, for a person (GET /api/status), refreshed every few
// seconds: ready or not and why, each readiness check in words, each issuer's keys and when they
// were fetched, version, configuration version, replica, uptime, the audit writer's queue and lag.
import { html, nothing, type TemplateResult } from 'lit';
import { get } from '../api.js';
import { errorText, LightElement } from '../base.js';
import { ago, duration, num, whenZ } from '../format.js';
import type { SidecarStatus, StatusCheck } from '../../../src/admin/wire.js';

/** How often the page asks again. */
export const STATUS_POLL_MS = 5000;

/** Readiness check names (rt.readiness) in words. */
const CHECK_LABELS: Record<string, string> = {
  store: 'Database (store)',
  'config-sync': 'Configuration sync',
  'warm-up': 'Warm-up',
  'jwt-keys': 'Signing keys of the JWT issuers',
  introspection: 'Token introspection',
  'rate-limit-store': 'Rate-limit store',
  tls: 'TLS certificates',
  'api-token-identity': 'API token identity (groups)',
  'identity-credentials': 'Jira identity credentials',
  audit: 'Audit log writer',
};

export const checkLabel = (name: string): string => CHECK_LABELS[name] ?? name;

/** What a handed-over verdict is, per kind (jwt.cacheHandover, introspection.cacheHandover). */
const HANDOVER_LABEL: Record<string, string> = { jwt: 'verified JWTs', introspection: 'introspection answers' };

const counts = (r: Record<string, number>): string => {
  const e = Object.entries(r).filter(([, n]) => n > 0);
  return e.length ? e.map(([k, n]) => `${k}: ${num(n)}`).join(', ') : 'none';
};

export class StatusPage extends LightElement {
  data: SidecarStatus | null = null;
  error = '';
  /** When the last answer arrived (epoch ms). */
  loadedAt = 0;
  private timer: number | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    this.timer = window.setInterval(() => void this.load(), STATUS_POLL_MS);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.clearInterval(this.timer);
  }

  async load(): Promise<void> {
    try {
      this.data = await get<SidecarStatus>('/api/status');
      this.loadedAt = Date.now();
      this.error = '';
    } catch (e) {
      this.error = `Could not read the status: ${errorText(e)}. Showing the last answer.`;
    }
    this.requestUpdate();
  }

  private check(c: StatusCheck): TemplateResult {
    return html`<tr data-check=${c.name} class=${c.ok ? 'ok' : 'bad'}>
      <th scope="row">${checkLabel(c.name)}<span class="help"> (${c.name})</span></th>
      <td><span class="badge ${c.ok ? 'active' : 'revoked'}">${c.ok ? 'Ready' : 'Not ready'}</span></td>
      <td class="detail-text">${c.detail ?? '—'}</td>
    </tr>`;
  }

  override render(): TemplateResult {
    const d = this.data;
    const head = html`<h1>Status</h1>
      <p class="help">What this replica's <code>/readyz</code> and <code>/metrics</code> say, refreshed every ${STATUS_POLL_MS / 1000} seconds.</p>
      ${this.error ? html`<p class="status error" role="alert">${this.error}</p>` : nothing}`;
    if (!d) return html`${head}<p>Loading…</p>`;
    const ready = d.status === 'ready';
    const a = d.audit;
    return html`${head}
      <section class="verdict-box ${ready ? 'ok' : 'bad'}" aria-labelledby="status-verdict" data-status=${d.status}>
        <h2 id="status-verdict">${ready ? 'Ready: this replica serves requests' : `Not ready: ${d.missing.map(checkLabel).join(', ')}`}</h2>
        <p class="help" aria-live="polite">Checked ${whenZ(d.now, true)}.</p>
      </section>
      <div class="cards status-cards">
        <div class="card"><div class="label">Version</div><div class="n" data-fact="version">${d.version}</div></div>
        <div class="card"><div class="label">Configuration version</div><div class="n" data-fact="config">${d.config.version}</div><div class="help">stored ${d.config.stored}, checked ${ago(d.config.syncedAt, d.now)}</div></div>
        <div class="card"><div class="label">Replica</div><div class="n small-n" data-fact="replica">${d.replica}</div><div class="help">store: ${d.store}</div></div>
        <div class="card"><div class="label">Uptime</div><div class="n" data-fact="uptime">${duration(d.uptimeSec)}</div><div class="help">since ${whenZ(d.startedAt)}</div></div>
      </div>
      <h2 id="checks-h">Readiness checks</h2>
      <div class="table-wrap" tabindex="0" role="region" aria-labelledby="checks-h"><table aria-labelledby="checks-h" class="checks">
        <thead><tr><th scope="col">Check</th><th scope="col">State</th><th scope="col">Detail</th></tr></thead>
        <tbody>${d.checks.map((c) => this.check(c))}</tbody>
      </table></div>
      <h2 id="issuers-h">JWT issuers' keys</h2>
      ${d.issuers.length === 0
        ? html`<p>No JWT issuer is configured.</p>`
        : html`<div class="table-wrap" tabindex="0" role="region" aria-labelledby="issuers-h"><table aria-labelledby="issuers-h" class="issuers">
            <thead><tr><th scope="col">Issuer</th><th scope="col">State</th><th scope="col">Keys fetched</th><th scope="col">Source</th></tr></thead>
            <tbody>${d.issuers.map(
              (i) => html`<tr data-issuer=${i.issuer}>
                <th scope="row">${i.issuer}</th>
                <td><span class="badge ${i.ok ? 'active' : 'revoked'}">${i.ok ? 'Keys loaded' : 'No usable keys'}</span></td>
                <td>${i.fetchedAt ? html`${whenZ(i.fetchedAt, true)} <span class="help">(${ago(i.fetchedAt, d.now)})</span>` : i.ok ? 'from the configuration' : 'not fetched'}</td>
                <td class="detail-text">${i.detail ?? i.source}</td>
              </tr>`,
            )}</tbody>
          </table></div>`}
      <h2 id="audit-h">Audit log writer</h2>
      <dl class="facts" aria-labelledby="audit-h">
        <dt>State</dt><dd data-fact="audit-state">${a.unavailable ? html`<span class="badge revoked">Refusing rows</span> ${a.unavailable}` : html`<span class="badge active">Writing</span>`}</dd>
        <dt>Waiting to be written</dt><dd data-fact="audit-queue">${num(a.queue)} ${a.queue === 1 ? 'row' : 'rows'}</dd>
        <dt>Written since start</dt><dd>${num(a.rowsWritten)} rows in ${num(a.writes)} batches</dd>
        <dt>Average batch write</dt><dd data-fact="audit-lag">${a.writeAvgMs === null ? 'no batch yet' : `${a.writeAvgMs} ms`}</dd>
        <dt>Not written</dt><dd>${counts(a.failures)}</dd>
        ${a.shipping.map(
          (s) => html`<dt>Shipping to ${s.destination}</dt><dd data-shipping=${s.destination}>${num(s.lagRows)} rows behind (oldest ${duration(s.lagSeconds)}), ${num(s.shipped)} shipped, ${num(s.failures)} failed batches</dd>`,
        )}
      </dl>
      <h2 id="traffic-h">Since this replica started</h2>
      <dl class="facts" aria-labelledby="traffic-h">
        <dt>Requests</dt><dd data-fact="requests">${counts(d.requests)}</dd>
        <dt>Rate-limited</dt><dd>${num(d.rateLimited)}</dd>
        <dt>Upstream (Jira) errors</dt><dd>${counts(d.upstreamErrors)}</dd>
        <dt>Configuration reloads</dt><dd>${counts(d.configReloads)}</dd>
        <dt>Taken over at start</dt><dd data-fact="handover">${d.handover.map((h, i) => html`${i ? '; ' : ''}<span data-handover=${h.kind}>${HANDOVER_LABEL[h.kind]}: ${
          !h.on ? html`off <span class="help">(${h.setting})</span>` : h.loaded === null ? 'nothing read yet' : html`${num(h.loaded)}${h.skipped ? ` (${num(h.skipped)} rows skipped)` : ''}`
        }</span>`)}</dd>
      </dl>`;
  }
}
customElements.define('page-status', StatusPage);
