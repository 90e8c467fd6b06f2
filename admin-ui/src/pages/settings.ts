// Settings: upstream (Jira), identity forwarding, audit, listeners, logging, admin sessions, the token
// lifecycle and notifications (with the delivery log and a test message). The admin password and
// API keys are on the Account page, the full configuration as JSON on the Raw configuration page.
import { html, nothing, type TemplateResult } from 'lit';
import { api, get } from '../api.js';
import { ConfigPage, errorText, LightElement, statusLine, type Status } from '../base.js';
import type { Form } from '../fields.js';
import type { DeliveryRecord } from '../../../src/store/lifecycle-store.js';

export class SettingsPage extends ConfigPage {
  readonly heading = 'Settings';

  protected override intro(): TemplateResult {
    const m = this.meta!;
    return html`<p class="help">
      Stored in ${m.source === 'file' ? html`the config file <code>${m.file}</code>` : 'the database (no config file in use)'}.
      ${m.envOverrides.length ? html`Set by the environment (read-only here): ${m.envOverrides.map((o) => html`<code>${o.path}</code> (${o.variable}) `)}.` : nothing}
    </p>`;
  }

  /**
   * The OAuth 1.0a application-link settings matter only where some identity is sent with
   * oauth1-impersonation (the mode, a per-issuer or per-client mode, or the credential map's fallback:
   * identity-schema.ts asks for them in the same cases). Otherwise they are hidden, and keep their values.
   */
  private oauth1Fields(f: Form): TemplateResult {
    const id = this.draft.upstream.identity;
    const used = new Set<string>([id.mode, ...Object.values(id.issuers ?? {}), ...Object.values(id.clients ?? {})].map(String));
    if (used.has('credential-map')) used.add(String(id.credentialMap?.fallback ?? 'deny'));
    const at = (k: string) => ['upstream', 'identity', 'oauth1', k];
    if (!used.has('oauth1-impersonation') && !f.hasIssues(['upstream', 'identity', 'oauth1']))
      return html`<p class="help" data-oauth1-hidden>OAuth 1.0a application-link settings show when a mode above is <code>oauth1-impersonation</code>. Their values are kept.</p>`;
    return html`<fieldset class="group-sub" data-oauth1-fields>
      <legend>OAuth 1.0a application link (oauth1-impersonation)</legend>
      ${f.groupIssues(['upstream', 'identity', 'oauth1'])}
      <div class="grid">
        ${f.text(at('consumerKey'), 'OAuth 1.0a consumer key')}
        ${f.secret(at('privateKeyPem'), 'OAuth 1.0a private key (PEM)', { multiline: true })}
        ${f.text(at('privateKeyFile'), 'OAuth 1.0a private key file')}
        ${f.text(at('jiraBaseUrl'), 'Jira base URL for signatures', { type: 'url' })}
        ${f.num(at('maxFormBodyBytes'), 'Max signed form body (bytes)', { min: 1024 })}
        ${f.bool(at('sendEmptyToken'), 'Send an empty oauth_token')}
      </div>
    </fieldset>`;
  }

  renderForm(f: Form): TemplateResult {
    return html`
      <fieldset>
        <legend>Jira (upstream)</legend>
        <div class="grid">
          ${f.text(['upstream', 'url'], 'Jira base URL', { type: 'url' })}
          ${f.text(['upstream', 'identityHeader'], 'Identity header', { help: 'Set to the authenticated username for Jira\'s header authenticator.' })}
          ${f.text(['upstream', 'sharedSecretHeader'], 'Shared secret header')}
          ${f.secret(['upstream', 'sharedSecret'], 'Shared secret', { help: 'Sent only together with an injected identity.' })}
          ${f.list(['upstream', 'stripHeaders'], 'Extra headers to strip', { help: 'Client headers that never reach Jira.' })}
          ${f.num(['upstream', 'timeoutMs'], 'Response timeout (ms)', { min: 1 })}
          ${f.num(['upstream', 'connectTimeoutMs'], 'Connect timeout (ms)', { min: 1 })}
          ${f.num(['upstream', 'maxSockets'], 'Max sockets', { min: 1 })}
        </div>
      </fieldset>
      ${this.draft.upstream?.identity
        ? html`<fieldset>
            <legend>Identity forwarding</legend>
            <div class="grid">
              ${f.select(['upstream', 'identity', 'mode'], 'Mode', ['header', 'oauth1-impersonation', 'credential-map'])}
              ${f.map(['upstream', 'identity', 'issuers'], 'Mode per issuer', { placeholder: 'issuer name = mode' })}
              ${f.map(['upstream', 'identity', 'clients'], 'Mode per client', { placeholder: 'client id = mode' })}
              ${f.select(['upstream', 'identity', 'credentialMap', 'fallback'], 'Unmapped caller', ['deny', 'header', 'oauth1-impersonation'])}
            </div>
            ${this.oauth1Fields(f)}
          </fieldset>`
        : nothing}
      <fieldset>
        <legend>Audit log</legend>
        <div class="grid">
          ${f.bool(['audit', 'enabled'], 'Audit enabled')}
          ${f.num(['audit', 'retentionDays'], 'Keep rows for (days)', { min: 1 })}
          ${f.num(['audit', 'maxEntries'], 'Keep at most (rows)', { min: 1000 })}
          ${f.select(['audit', 'onFailure'], 'When the audit log cannot keep up', [
            ['deny', 'deny (503)'],
            ['allow', 'allow (counted and logged)'],
          ])}
          ${f.num(['audit', 'queueMax'], 'Queue size', { min: 100 })}
          ${f.num(['audit', 'batchSize'], 'Batch size', { min: 1 })}
          ${f.num(['audit', 'flushIntervalMs'], 'Flush interval (ms)', { min: 1 })}
          ${f.num(['audit', 'indexBatchRows'], 'Audit indexes (user, IP, path, token, client) filled every (rows)', { min: 1, max: 1000000 })}
          ${f.num(['audit', 'retentionIntervalSec'], 'Retention run interval (s)', { min: 10 })}
          ${f.select(['audit', 'writer'], 'Audit writer (takes effect after a restart)', [
            ['worker', 'worker thread'],
            ['inline', 'inline (event loop)'],
          ])}
        </div>
      </fieldset>
      <fieldset>
        <legend>Audit shipping</legend>
        <p class="help">Sends the request log to a SIEM as it is written, at least once and in order per replica, with the export's fields (no secrets). Where each destination stopped is stored, so an outage or a restart resumes there; on a cluster one replica at a time ships every replica's rows. A SIEM that is down never affects requests or /readyz.</p>
        ${f.bool(['audit', 'shipping', 'syslog', 'enabled'], 'Syslog enabled')}
        <div class="grid">
          ${f.text(['audit', 'shipping', 'syslog', 'url'], 'Syslog receiver', { placeholder: 'tls://siem.example.com:6514', help: 'tcp://host:port (RFC 6587 octet counting) or tls://host:port (RFC 5425).' })}
          ${f.text(['audit', 'shipping', 'syslog', 'caFile'], 'CA file (tls://)', { help: 'PEM bundle the receiver\'s certificate is checked against; empty: the system CAs.' })}
          ${f.text(['audit', 'shipping', 'syslog', 'appName'], 'APP-NAME')}
          ${f.select(['audit', 'shipping', 'syslog', 'facility'], 'Facility', [
            ['log_audit', 'log_audit (13)'], ['auth', 'auth (4)'], ['authpriv', 'authpriv (10)'], ['user', 'user (1)'], ['daemon', 'daemon (3)'], ['syslog', 'syslog (5)'],
            ['local0', 'local0 (16)'], ['local1', 'local1 (17)'], ['local2', 'local2 (18)'], ['local3', 'local3 (19)'], ['local4', 'local4 (20)'], ['local5', 'local5 (21)'], ['local6', 'local6 (22)'], ['local7', 'local7 (23)'],
          ], { help: 'A number 0-23 in the config file works too.' })}
          ${f.select(['audit', 'shipping', 'syslog', 'format'], 'Message format', [
            ['json', 'JSON body (the NDJSON export line)'],
            ['structured-data', 'RFC 5424 structured data (export column names)'],
          ])}
          ${f.num(['audit', 'shipping', 'syslog', 'batchRows'], 'Syslog rows per batch', { min: 1, max: 10000 })}
          ${f.num(['audit', 'shipping', 'syslog', 'flushIntervalMs'], 'Syslog: look for new rows every (ms)', { min: 10 })}
        </div>
        ${f.bool(['audit', 'shipping', 'http', 'enabled'], 'HTTP enabled')}
        <div class="grid">
          ${f.text(['audit', 'shipping', 'http', 'url'], 'HTTP endpoint', { type: 'url', placeholder: 'https://splunk.example.com:8088/services/collector/event' })}
          ${f.select(['audit', 'shipping', 'http', 'format'], 'Body format', [
            ['ndjson', 'NDJSON (the export\'s lines)'],
            ['splunk-hec', 'Splunk HTTP Event Collector'],
            ['elastic-bulk', 'Elasticsearch _bulk'],
          ])}
          ${f.secret(['audit', 'shipping', 'http', 'authorization'], 'Authorization header', { help: 'The whole value: "Splunk <HEC token>", "ApiKey <key>", "Bearer <token>".' })}
          ${f.text(['audit', 'shipping', 'http', 'index'], 'Index', { help: 'Elasticsearch: the index or data stream (unless the URL names it); Splunk: the event index.' })}
          ${f.num(['audit', 'shipping', 'http', 'batchRows'], 'HTTP rows per batch', { min: 1, max: 10000 })}
          ${f.num(['audit', 'shipping', 'http', 'flushIntervalMs'], 'HTTP: look for new rows every (ms)', { min: 10 })}
        </div>
        <div class="grid">
          ${f.num(['audit', 'shipping', 'maxBackoffMs'], 'Retry a failed batch after at most (ms)', { min: 100, help: 'First retry after 1 s, doubling up to this.' })}
          ${f.num(['audit', 'shipping', 'timeoutMs'], 'Connect / batch timeout (ms)', { min: 100 })}
        </div>
      </fieldset>
      <fieldset>
        <legend>Listeners and logging</legend>
        <p class="help">Listener settings take effect after a restart.</p>
        <div class="grid">
          ${f.text(['server', 'host'], 'Proxy host')}
          ${f.num(['server', 'port'], 'Proxy port', { min: 0, max: 65535 })}
          ${f.text(['server', 'adminHost'], 'Admin host')}
          ${f.num(['server', 'adminPort'], 'Admin port', { min: 0, max: 65535 })}
          ${f.text(['server', 'dataDir'], 'Data directory')}
          ${f.num(['server', 'shutdownGraceMs'], 'Shutdown grace (ms)', { min: 1 })}
          ${f.num(['server', 'maxHeaderBytes'], 'Max request head (bytes)', { min: 1024 })}
          ${f.num(['server', 'maxHeaderCount'], 'Max header fields', { min: 10, max: 10000 })}
          ${f.text(['server', 'workers'], 'Worker processes', { parse: (v) => (/^\d+$/.test(v.trim()) ? Number(v) : v.trim()), help: 'A number from 1 to 64, or "auto" (one per core). 1: one process.' })}
          ${f.num(['server', 'warmupRequests'], 'Start-up warm-up (requests)', { min: 0, max: 100000, help: 'Sent to itself before /readyz says ready. 0: none.' })}
          ${f.text(['server', 'replicaName'], 'Replica name', { help: 'Its audit rows and chains carry it. Empty: <hostname>:<port>. Set in the config file; shown here.' })}
          ${f.select(['log', 'level'], 'Log level', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])}
          ${f.num(['admin', 'sessionTtlSec'], 'Admin session lifetime (s)', { min: 60 })}
        </div>
      </fieldset>
      <fieldset>
        <legend>TLS</legend>
        <p class="help">
          HTTPS on the proxy and admin listeners (no certificate: plain HTTP), and TLS to an https:// Jira. Listener settings take effect after a
          restart; new contents of the certificate files (cert-manager) are served by themselves, without dropping a connection. Jira's certificate
          and host name are always verified.
        </p>
        ${(['server', 'admin'] as const).map((l) => {
          const who = l === 'server' ? 'Proxy' : 'Admin';
          return html`<div class="grid">
              ${f.text([l, 'tls', 'certFile'], `${who} listener certificate file (PEM)`, { placeholder: '/etc/jira-auth-sidecar/tls/tls.crt' })}
              ${f.text([l, 'tls', 'keyFile'], `${who} listener private key file (PEM)`, { placeholder: '/etc/jira-auth-sidecar/tls/tls.key' })}
              ${f.text([l, 'tls', 'caFile'], `${who} listener client CA file (PEM)`, { help: 'Client certificates must chain to it (required with a client certificate).' })}
              ${f.select([l, 'tls', 'minVersion'], `${who} listener minimum TLS version`, [
                ['TLSv1.2', 'TLS 1.2 and 1.3'],
                ['TLSv1.3', 'TLS 1.3 only'],
              ])}
              ${f.bool([l, 'tls', 'requestClientCert'], `${who} listener requires a client certificate`)}
            </div>
            ${this.draft[l]?.tls ? html`<p><button type="button" class="small" @click=${() => f.set([l, 'tls'], undefined)}>${who} listener: plain HTTP (remove TLS)</button></p>` : nothing}`;
        })}
        <div class="grid">
          ${f.text(['upstream', 'tls', 'caFile'], 'Jira CA file (PEM)', { help: "The CA Jira's certificate must chain to, instead of the system CAs." })}
          ${f.text(['upstream', 'tls', 'certFile'], 'Client certificate to Jira (PEM)', { help: 'Mutual TLS: presented to Jira, with its key.' })}
          ${f.text(['upstream', 'tls', 'keyFile'], 'Client certificate key (PEM)')}
          ${f.text(['upstream', 'tls', 'servername'], "Name on Jira's certificate", { help: 'SNI, and the name the certificate is checked against. Empty: the host of the Jira base URL.' })}
          ${f.select(['upstream', 'tls', 'minVersion'], 'Minimum TLS version to Jira', [
            ['TLSv1.2', 'TLS 1.2 and 1.3'],
            ['TLSv1.3', 'TLS 1.3 only'],
          ], { optional: true })}
        </div>
      </fieldset>
      <fieldset>
        <legend>Storage</legend>
        <p class="help">Where tokens, accounts, saved settings and the audit log live. Read at start from the config file or SIDECAR_DATABASE_URL; shown here, changed there.</p>
        <div class="grid">
          ${f.select(['store', 'kind'], 'Store', ['sqlite', 'postgres'])}
          ${f.secret(['store', 'url'], 'PostgreSQL URL')}
          ${f.text(['store', 'caFile'], 'PostgreSQL CA file')}
          ${f.num(['store', 'poolSize'], 'Connections per replica', { min: 1, max: 200 })}
          ${f.num(['store', 'statementTimeoutMs'], 'Statement timeout (ms)', { min: 1 })}
          ${f.num(['store', 'connectTimeoutMs'], 'Connect timeout (ms)', { min: 1 })}
          ${f.num(['store', 'syncIntervalMs'], 'Config sync interval (ms)', { min: 100, max: 60000 })}
        </div>
      </fieldset>
      <fieldset>
        <legend>Tracing (OpenTelemetry)</legend>
        <p class="help">One span per request (decision, stages, the call to Jira) sent to an OTLP/HTTP collector. Read at start: a change applies at the next restart.</p>
        <div class="grid">
          ${f.bool(['tracing', 'enabled'], 'Send traces')}
          ${f.text(['tracing', 'endpoint'], 'OTLP/HTTP traces endpoint', { type: 'url' })}
          ${f.text(['tracing', 'serviceName'], 'Service name')}
          ${f.num(['tracing', 'sampleRatio'], 'Share of new traces recorded (0-1)', { min: 0, max: 1, step: 0.01 })}
          ${f.select(['tracing', 'acceptTraceparent'], "Continue a caller's traceparent", ['trusted-proxies', 'always', 'never'], { help: 'trusted-proxies: only from access.trustedProxies.' })}
          ${f.num(['tracing', 'flushIntervalMs'], 'Export interval (ms)', { min: 1 })}
          ${f.num(['tracing', 'exportTimeoutMs'], 'Export timeout (ms)', { min: 1 })}
        </div>
      </fieldset>
      <fieldset>
        <legend>Token lifecycle</legend>
        <p class="help">Run every interval on one replica at a time: owners are warned before a token expires or is revoked for disuse, unused tokens are revoked, long-ended tokens deleted. Each run that did something is an admin-activity row.</p>
        <div class="grid">
          ${f.num(['apiTokens', 'maxPerUser'], 'Live tokens per owner (at most)', { min: 1, max: 10000, help: 'Self-service, the admin API and the CLI refuse a token past this.' })}
          ${f.num(['apiTokens', 'revokeUnusedAfterDays'], 'Revoke tokens unused for (days)', { min: 0, max: 3650, help: 'Since their last use, or creation when never used. 0: never.' })}
          ${f.num(['apiTokens', 'deleteAfterDays'], 'Delete tokens ended for (days)', { min: 0, max: 3650, help: 'Expired or revoked this long ago. 0: kept.' })}
          ${f.list(['apiTokens', 'warnDays'], 'Warn owners (days before)', {
            rows: 2,
            parse: (l) => (/^\d+$/.test(l) ? Number(l) : l),
            check: (l) => (/^\d+$/.test(l) && Number(l) >= 1 && Number(l) <= 365 ? null : `"${l}": a whole number of days from 1 to 365`),
            help: 'One number per line; each warning is sent once per token, before its expiry and before a revocation for disuse.',
          })}
          ${f.num(['apiTokens', 'lifecycleIntervalSec'], 'Run every (s)', { min: 10, max: 86400 })}
        </div>
      </fieldset>
      <fieldset>
        <legend>Notifications</legend>
        <p class="help">How token owners are told. Templates replace {user} {name} {id} {event} {detail} {expiresAt}; no message ever contains a token's secret.</p>
        ${f.bool(['notifications', 'email', 'enabled'], 'E-mail enabled')}
        <div class="grid">
          ${f.secret(['notifications', 'email', 'smtpUrl'], 'SMTP URL', { help: 'smtp://user:password@host:587 (STARTTLS when offered) or smtps://host:465.' })}
          ${f.text(['notifications', 'email', 'from'], 'From')}
          ${f.text(['notifications', 'email', 'addressTemplate'], 'Owner address', { help: "Used when Jira has no address for the owner (or no Jira credential is set). {user}: the username." })}
          ${f.text(['notifications', 'email', 'subjectTemplate'], 'Subject')}
          ${f.area(['notifications', 'email', 'bodyTemplate'], 'Body', { rows: 5 })}
        </div>
        ${f.bool(['notifications', 'webhook', 'enabled'], 'Webhook enabled')}
        <div class="grid">
          ${f.text(['notifications', 'webhook', 'url'], 'Webhook URL', { type: 'url' })}
          ${f.secret(['notifications', 'webhook', 'secret'], 'Signing secret', { help: 'Each body is signed: X-Sidecar-Signature: sha256=<hex HMAC-SHA256 of the raw body>.' })}
          ${f.num(['notifications', 'webhook', 'maxAttempts'], 'Attempts (at most)', { min: 1, max: 20 })}
          ${f.num(['notifications', 'webhook', 'timeoutMs'], 'Timeout per attempt (ms)', { min: 1 })}
        </div>
      </fieldset>`;
  }
}
customElements.define('page-settings-form', SettingsPage);

const at = (ms: number | null) => (ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '—');

/** The notification delivery log (GET /api/notifications) and a test message per channel. */
export class NotificationDeliveries extends LightElement {
  deliveries: DeliveryRecord[] = [];
  channels: { email: boolean; webhook: boolean } = { email: false, webhook: false };
  status: Status = null;
  sending = false;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }
  async load() {
    try {
      const r = await get<{ deliveries: DeliveryRecord[]; channels: { email: boolean; webhook: boolean } }>('/api/notifications?limit=50');
      this.deliveries = r.deliveries;
      this.channels = r.channels;
    } catch (e) {
      this.status = { kind: 'error', text: `Delivery log not loaded: ${errorText(e)}` };
    }
    this.requestUpdate();
  }
  async sendTest(e: Event) {
    e.preventDefault();
    const d = new FormData(e.target as HTMLFormElement);
    const channel = String(d.get('channel'));
    const to = String(d.get('to') ?? '').trim();
    this.sending = true;
    this.status = { kind: 'info', text: `Sending a test ${channel === 'email' ? 'e-mail' : 'webhook call'}…` };
    this.requestUpdate();
    try {
      const r = await api<{ delivery: DeliveryRecord }>('POST', '/api/notifications/test', { channel, ...(channel === 'email' && to ? { to } : {}) });
      const x = r.delivery;
      this.status = x.status === 'sent' ? { kind: 'ok', text: `Test sent to ${x.target}.` } : { kind: 'error', text: `Test not delivered to ${x.target}: ${x.lastError ?? x.status}` };
      await this.load();
    } catch (err) {
      this.status = { kind: 'error', text: `Not sent: ${errorText(err)}` };
    }
    this.sending = false;
    this.requestUpdate();
  }
  override render(): TemplateResult {
    return html`<section aria-labelledby="deliveries-h">
      <h2 id="deliveries-h">Deliveries</h2>
      <p class="help">Every notification message (newest first, the last 50) and how its delivery went. Kept as long as the audit log (audit.retentionDays). Save the settings above before testing them.</p>
      <form class="inline" @submit=${(e: Event) => void this.sendTest(e)}>
        <div class="field"><label for="test-channel">Channel</label>
          <select id="test-channel" name="channel">
            <option value="email">e-mail${this.channels.email ? '' : ' (not enabled)'}</option>
            <option value="webhook">webhook${this.channels.webhook ? '' : ' (not enabled)'}</option>
          </select></div>
        <div class="field"><label for="test-to">E-mail to (optional)</label><input id="test-to" name="to" type="email" placeholder="your address" /></div>
        <button type="submit" ?disabled=${this.sending}>Send a test</button>
        <button type="button" @click=${() => void this.load()}>Refresh</button>
      </form>
      ${statusLine(this.status)}
      <div class="table-wrap" tabindex="0" role="region" aria-label="Notification deliveries"><table>
        <thead><tr><th scope="col">Queued</th><th scope="col">Channel</th><th scope="col">Event</th><th scope="col">Token</th><th scope="col">Owner</th><th scope="col">To</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Sent</th></tr></thead>
        <tbody>
          ${this.deliveries.length
            ? this.deliveries.map(
                (d) => html`<tr>
                  <td>${at(d.time)}</td><td>${d.channel}</td><td>${d.event}</td><td>${d.tokenId ? html`<code>${d.tokenId}</code>` : '—'}</td><td>${d.owner ?? '—'}</td>
                  <td>${d.target}</td><td>${d.status}</td><td>${d.attempts}</td><td>${d.lastError ?? ''}</td><td>${at(d.sentAt)}</td>
                </tr>`,
              )
            : html`<tr><td colspan="10">No notifications yet.</td></tr>`}
        </tbody>
      </table></div>
    </section>`;
  }
}
customElements.define('notification-deliveries', NotificationDeliveries);

export class SettingsRoute extends LightElement {
  override render(): TemplateResult {
    return html`<page-settings-form></page-settings-form><notification-deliveries></notification-deliveries>`;
  }
}
customElements.define('page-settings', SettingsRoute);
