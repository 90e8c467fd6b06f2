// Test a token: describe a request; the server runs the proxy's decision stages on it (without
// calling Jira or using a rate-limit point) and returns the decision with every rule's verdict.
import { html, nothing, type TemplateResult } from 'lit';
import { api, ApiError, type Issue } from '../api.js';
import { errorText, LightElement, statusLine, type Status } from '../base.js';

interface Verdict {
  stage: string;
  rule: string;
  /** report: the rule would have refused, but only reports (enforcement.rules). */
  outcome: 'pass' | 'deny' | 'skip' | 'info' | 'report';
  detail?: string;
  code?: string;
}
interface Decision {
  allow: boolean;
  status: number;
  code: string;
  reason: string;
  stage?: string;
  rule?: string;
  clientIp?: string;
  canonicalPath?: string;
  route?: string;
  credentialKind?: string;
  identity?: { username: string; source: string; groups: string[]; issuer?: string; clientId?: string; tokenId?: string; claims?: Record<string, unknown> };
  rateLimit?: { limit: number; remaining: number; resetSec: number; key: string };
  /** Refusals of rules in report mode: the request goes on; this is what enforcing them would answer. */
  wouldDeny?: Array<{ code: string; stage: string; rule: string; detail: string }>;
  verdicts: Verdict[];
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

export class TestPage extends LightElement {
  decision: Decision | null = null;
  issues: Issue[] = [];
  status: Status = null;
  busy = false;

  async run(e: Event) {
    e.preventDefault();
    const d = new FormData(e.target as HTMLFormElement);
    const headers: Record<string, string> = {};
    for (const l of String(d.get('headers') ?? '').split(/\r?\n/)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).trim()] = l.slice(i + 1).trim();
    }
    this.busy = true;
    this.issues = [];
    this.requestUpdate();
    try {
      const r = await api<{ decision: Decision }>('POST', '/api/test', {
        token: d.get('token') || undefined,
        method: d.get('method'),
        path: d.get('path'),
        ip: d.get('ip') || undefined,
        headers,
      });
      this.decision = r.decision;
      this.status = null;
    } catch (err) {
      this.decision = null;
      this.issues = err instanceof ApiError ? err.issues : [];
      this.status = { kind: 'error', text: errorText(err) };
    } finally {
      this.busy = false;
      this.requestUpdate();
    }
  }

  private err(name: string) {
    const msgs = this.issues.filter((i) => i.path === name || i.path.startsWith(`${name}.`));
    return html`<div class="error" id=${`t-${name}-err`} role="alert">${msgs.map((m) => html`<div>${m.message}</div>`)}</div>`;
  }

  private result(d: Decision): TemplateResult {
    return html`<section class="decision ${d.allow ? 'allow' : 'deny'}" aria-labelledby="decision-h" aria-live="polite">
      <h2 id="decision-h">${d.allow ? 'Allowed' : 'Refused'} <span class="badge ${d.allow ? 'allow' : 'deny'}">${d.status} ${d.code}</span></h2>
      <p class="reason">${d.reason}</p>
      <dl class="facts">
        ${d.stage ? html`<dt>Refused by</dt><dd>${d.stage}${d.rule ? html` — rule <code>${d.rule}</code>` : nothing}</dd>` : nothing}
        <dt>Route</dt><dd>${d.route ?? '—'} ${d.canonicalPath ? html`(<code>${d.canonicalPath}</code>)` : nothing}</dd>
        <dt>Client IP</dt><dd>${d.clientIp ?? '—'}</dd>
        <dt>Credential</dt><dd>${d.credentialKind ?? '—'}</dd>
        ${d.identity
          ? html`<dt>Identity</dt><dd>${d.identity.username} (${d.identity.source}${d.identity.issuer ? `, issuer ${d.identity.issuer}` : ''}${d.identity.clientId ? `, client ${d.identity.clientId}` : ''}${d.identity.tokenId ? `, token ${d.identity.tokenId}` : ''})</dd>
              <dt>Groups</dt><dd>${d.identity.groups.join(', ') || '—'}</dd>`
          : nothing}
        ${d.wouldDeny?.length
          ? html`<dt>Report only</dt><dd class="would-deny">${d.wouldDeny.map((w) => html`<div>would be refused with <code>${w.code}</code> by <code>${w.rule}</code> (${w.detail})</div>`)}</dd>`
          : nothing}
        ${d.rateLimit ? html`<dt>Rate limit</dt><dd>${d.rateLimit.remaining} of ${d.rateLimit.limit} left (key ${d.rateLimit.key})</dd>` : nothing}
      </dl>
      <h3>Every rule checked</h3>
      <div class="table-wrap"><table class="verdicts">
        <thead><tr><th scope="col">Stage</th><th scope="col">Rule</th><th scope="col">Verdict</th><th scope="col">Detail</th></tr></thead>
        <tbody>
          ${d.verdicts.map(
            (v) => html`<tr class=${v.outcome}><td>${v.stage}</td><td><code>${v.rule}</code></td><td><span class="badge ${v.outcome}">${v.outcome}</span>${v.code ? html` <code>${v.code}</code>` : nothing}</td><td>${v.detail ?? ''}</td></tr>`,
          )}
        </tbody>
      </table></div>
      ${d.identity?.claims ? html`<details><summary>Token claims</summary><pre>${JSON.stringify(d.identity.claims, null, 2)}</pre></details>` : nothing}
    </section>`;
  }

  override render(): TemplateResult {
    return html`<h1>Test a token</h1>
      <p class="help">Runs the same decision stages as the proxy. Jira is not called, no rate-limit point is used and nothing is stamped.</p>
      <form class="grid" @submit=${(e: Event) => void this.run(e)}>
        <div class="field wide"><label for="t-token">Token or Authorization value</label>
          <textarea id="t-token" name="token" rows="3" spellcheck="false" autocomplete="off" placeholder="eyJ… or jas_… or Basic …" aria-describedby="t-token-err"></textarea>${this.err('token')}</div>
        <div class="field"><label for="t-method">Method</label>
          <select id="t-method" name="method">${METHODS.map((m) => html`<option>${m}</option>`)}</select>${this.err('method')}</div>
        <div class="field"><label for="t-path">Path</label><input id="t-path" name="path" value="/rest/api/2/myself" required aria-describedby="t-path-err" />${this.err('path')}</div>
        <div class="field"><label for="t-ip">Client IP</label><input id="t-ip" name="ip" placeholder="127.0.0.1" aria-describedby="t-ip-err" />${this.err('ip')}</div>
        <div class="field wide"><label for="t-headers">Extra headers</label>
          <textarea id="t-headers" name="headers" rows="2" spellcheck="false" placeholder="X-Forwarded-For: 203.0.113.7" aria-describedby="t-headers-err"></textarea>${this.err('headers')}</div>
        <div class="actions"><button type="submit" class="primary" ?disabled=${this.busy}>Test</button></div>
      </form>
      ${statusLine(this.status)} ${this.decision ? this.result(this.decision) : nothing}`;
  }
}
customElements.define('page-test', TestPage);
