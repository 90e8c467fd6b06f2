// Raw configuration: every setting as JSON, including those without a form field. Saved like the
// form pages (ConfigPage): the edited document is replayed over recorded traffic first, and a change
// that would have refused requests is saved only after the confirmation dialog.
import { html, nothing, type TemplateResult } from 'lit';
import { live } from 'lit/directives/live.js';
import { ConfigPage } from '../base.js';
import type { Form } from '../fields.js';

export class RawConfigPage extends ConfigPage {
  readonly heading = 'Raw configuration';
  /** The textarea's text; parsed into the draft when saving. */
  text = '';
  /** The JSON parse error of the last save attempt (nothing sent then). */
  parseError: string | null = null;

  protected override afterReset(): void {
    this.text = JSON.stringify(this.draft, null, 2);
    this.parseError = null;
  }

  protected override intro(): TemplateResult {
    return html`<p class="help">Every setting, including those without a form field. Secrets show as ******** and stay as they are unless you replace them.
      <code>\${VAR}</code> is not expanded here. Saving checks the change against the last days' requests first, as the other settings pages do.</p>`;
  }

  override async save(): Promise<void> {
    if (this.saving || this.confirming) return;
    let doc: unknown;
    try {
      doc = JSON.parse(this.text);
    } catch (e) {
      this.parseError = `Not valid JSON: ${(e as Error).message}`;
      this.status = { kind: 'error', text: 'Not saved: the text is not valid JSON.' };
      this.requestUpdate();
      await this.updateComplete;
      this.querySelector<HTMLTextAreaElement>('#raw-config')?.focus();
      return;
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      this.parseError = 'The configuration must be a JSON object ({ … }).';
      this.status = { kind: 'error', text: 'Not saved: the text is not a JSON object.' };
      this.requestUpdate();
      return;
    }
    this.parseError = null;
    this.draft = doc as Record<string, any>;
    await super.save();
  }

  renderForm(f: Form): TemplateResult {
    // Every issue belongs to this one field (none is "on another page").
    f.rendered.push(...this.issues.map((i) => i.path));
    const invalid = this.issues.length > 0 || this.parseError !== null;
    return html`<div class="field raw ${invalid ? 'invalid' : ''}">
      <label for="raw-config">Configuration JSON</label>
      <textarea id="raw-config" class="code" rows="24" spellcheck="false" aria-describedby="raw-issues" aria-invalid=${invalid ? 'true' : 'false'}
        .value=${live(this.text)}
        @input=${(e: Event) => {
          this.text = (e.target as HTMLTextAreaElement).value;
          if (!this.dirty) {
            this.dirty = true;
            this.requestUpdate();
          }
        }}></textarea>
      <div id="raw-issues" class="error" role="alert">${this.parseError ? html`<div>${this.parseError}</div>` : nothing}${this.issues.length
        ? html`<ul>${this.issues.map((i) => html`<li><code>${i.path}</code>: ${i.message}</li>`)}</ul>`
        : nothing}</div>
    </div>`;
  }
}
customElements.define('page-raw-config', RawConfigPage);
