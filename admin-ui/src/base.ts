// Base classes: light-DOM Lit elements (one global stylesheet, no inline styles under the CSP) and
// the configuration page that loads GET /api/config, edits a draft and saves it with PUT.
import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { api, ApiError, get, type ConfigMeta, type Issue, type PutConfigResult } from './api.js';
import { covers, Form, type FormHost } from './fields.js';

export class LightElement extends LitElement {
  protected override createRenderRoot(): HTMLElement {
    return this;
  }
}

export type Status = { kind: 'ok' | 'error' | 'info'; text: string } | null;

export function statusLine(s: Status): TemplateResult | typeof nothing {
  if (!s) return nothing;
  return html`<p class="status ${s.kind}" role=${s.kind === 'error' ? 'alert' : 'status'}>${s.text}</p>`;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return (e as Error).message ?? String(e);
}

export abstract class ConfigPage extends LightElement implements FormHost {
  draft: Record<string, any> = {};
  issues: Issue[] = [];
  meta: ConfigMeta | null = null;
  rawText = new Map<string, string>();
  localIssues = new Map<string, string[]>();
  dirty = false;
  status: Status = null;
  saving = false;

  abstract readonly heading: string;
  abstract renderForm(f: Form): TemplateResult;
  protected intro(): TemplateResult | typeof nothing {
    return nothing;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private reset(meta: ConfigMeta) {
    this.meta = meta;
    this.draft = structuredClone(meta.config);
    this.rawText.clear();
    this.localIssues.clear();
    this.dirty = false;
  }

  async load(): Promise<void> {
    try {
      this.reset(await get<ConfigMeta>('/api/config'));
      this.issues = [];
    } catch (e) {
      this.status = { kind: 'error', text: `Could not load the configuration: ${errorText(e)}` };
    }
    this.requestUpdate();
  }

  async save(): Promise<void> {
    if (this.saving) return;
    this.saving = true;
    this.status = { kind: 'info', text: 'Saving…' };
    this.requestUpdate();
    try {
      const r = await api<PutConfigResult>('PUT', '/api/config', this.draft);
      this.reset(r);
      this.issues = [];
      const restart = r.changes.filter((c) => r.restartRequired.some((p) => c.path === p || c.path.startsWith(`${p}.`)));
      this.status = {
        kind: 'ok',
        text: r.changes.length === 0 ? 'No changes to save.' : `Saved ${r.changes.length} change(s); in effect now.${restart.length ? ` ${restart.map((c) => c.path).join(', ')}: takes effect after a restart.` : ''}`,
      };
    } catch (e) {
      if (e instanceof ApiError && e.issues.length) {
        this.issues = e.issues;
        this.status = { kind: 'error', text: `Not saved: ${e.issues.length} problem(s). Each is shown next to its field.` };
      } else this.status = { kind: 'error', text: `Not saved: ${errorText(e)}` };
    } finally {
      this.saving = false;
      this.requestUpdate();
      await this.updateComplete;
      (this.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus();
    }
  }

  override render(): TemplateResult {
    if (!this.meta) return html`<h1>${this.heading}</h1>${statusLine(this.status)}<p>Loading…</p>`;
    const f = new Form(this);
    const body = this.renderForm(f);
    const elsewhere = this.issues.filter((i) => !f.rendered.some((p) => covers(p, i.path)));
    const local = [...this.localIssues.values()].flat().length;
    return html`<h1>${this.heading}</h1>
      ${this.intro()}
      <form
        class="config"
        novalidate
        @submit=${(e: Event) => {
          e.preventDefault();
          void this.save();
        }}
      >
        ${elsewhere.length
          ? html`<div class="issues" role="alert"><strong>Problems in settings not on this page:</strong>
              <ul>${elsewhere.map((i) => html`<li><code>${i.path}</code>: ${i.message}</li>`)}</ul></div>`
          : nothing}
        ${body}
        <div class="actions sticky">
          <button type="submit" class="primary" ?disabled=${this.saving}>Save</button>
          <button type="button" ?disabled=${!this.dirty || this.saving} @click=${() => void this.load()}>Discard changes</button>
          ${this.dirty ? html`<span class="dirty">Unsaved changes${local ? ` (${local} problem(s) found while typing)` : ''}</span>` : nothing}
          ${statusLine(this.status)}
        </div>
      </form>`;
  }
}
