// Base classes: light-DOM Lit elements (one global stylesheet, no inline styles under the CSP) and
// the configuration page that loads GET /api/config, edits a draft and saves it with PUT. Before a
// save the edited document is replayed over the last days' requests (POST /api/replay), against the
// current config replayed the same way (so only what this save changes is shown); a change
// that would have refused some of them is saved only after the admin confirms it in a dialog.
import { html, LitElement, nothing, type TemplateResult } from 'lit';
import { api, ApiError, get, type ConfigMeta, type Issue, type PutConfigResult } from './api.js';
import { covers, Form, pathLabel, type FormHost } from './fields.js';
import { PREVIEW_SINCE, previewCodes, previewSentence, renderPreview } from './preview.js';
import type { ReplayResult } from '../../src/admin/wire.js';

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

/**
 * An error in words: the server's message, or its field problems one by one. Never the stable code
 * ("bad_request"): that is for scripts, and a person reads the message (issue 22).
 */
export function errorText(e: unknown): string {
  if (e instanceof ApiError && e.issues.length) return e.issues.map((i) => i.message).join(' ');
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
  /** What the last save attempt's document would have done to recorded traffic (null: not previewed). */
  preview: ReplayResult | null = null;
  /** The confirmation dialog is open: the preview would have refused requests. */
  confirming = false;
  /** The labels of the fields last drawn, by path (Form.labels). */
  private labels = new Map<string, string>();

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
    this.afterReset();
  }

  /** Called after the draft was (re)set from the server's document (a load or a save). */
  protected afterReset(): void {}

  async load(): Promise<void> {
    this.preview = null;
    this.confirming = false;
    try {
      this.reset(await get<ConfigMeta>('/api/config'));
      this.issues = [];
    } catch (e) {
      this.status = { kind: 'error', text: `Could not load the configuration: ${errorText(e)}` };
    }
    this.requestUpdate();
  }

  /**
   * Save: replay the edited document first; when it would have refused recorded requests, ask in a
   * dialog and save only on "Save anyway". A failed replay (e.g. 400 config_invalid) falls through to
   * the PUT, whose issues are shown beside their fields.
   */
  async save(): Promise<void> {
    if (this.saving || this.confirming) return;
    this.preview = null;
    if (this.dirty) {
      this.saving = true;
      this.status = { kind: 'info', text: 'Checking what this change would have done…' };
      this.requestUpdate();
      try {
        this.preview = await api<ReplayResult>('POST', '/api/replay', { config: this.draft, since: PREVIEW_SINCE, against: 'current' });
      } catch {
        this.preview = null;
      } finally {
        this.saving = false;
      }
      if (this.preview && this.preview.allowedToDenied > 0) {
        this.confirming = true;
        this.status = { kind: 'info', text: 'Not saved yet: confirm or cancel.' };
        this.requestUpdate();
        return;
      }
    }
    await this.put();
  }

  /** The admin's answer in the confirmation dialog. */
  private async answer(save: boolean): Promise<void> {
    if (!this.confirming) return;
    this.confirming = false;
    if (save) await this.put();
    else {
      this.status = { kind: 'info', text: 'Not saved. Your changes are still here.' };
      this.requestUpdate();
    }
  }

  override updated(): void {
    const d = this.querySelector<HTMLDialogElement>('dialog.confirm-save');
    if (!d) return;
    if (this.confirming && !d.open) d.showModal();
    else if (!this.confirming && d.open) d.close();
  }

  private async put(): Promise<void> {
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
        // One message per problem: where the server reported a field, its message replaces the one typed.
        for (const k of [...this.localIssues.keys()]) if (e.issues.some((i) => covers(k, i.path))) this.localIssues.delete(k);
        this.status = { kind: 'error', text: `Not saved: ${e.issues.length === 1 ? 'a problem' : `${e.issues.length} problems`}, shown next to ${this.fieldNames(e.issues)}.` };
      } else this.status = { kind: 'error', text: `Not saved: ${errorText(e)}` };
    } finally {
      this.saving = false;
      this.requestUpdate();
      await this.updateComplete;
      // The first bad field, in the middle of the window: never under the sticky Save bar.
      const bad = this.querySelector<HTMLElement>('[aria-invalid="true"]');
      if (bad) {
        bad.focus({ preventScroll: true });
        bad.scrollIntoView({ block: 'center' });
      }
    }
  }

  /** "Audiences (aud) and Endpoint": the fields the issues are about, by their labels (a path in words when not on this page). */
  private fieldNames(issues: Issue[]): string {
    const names = [
      ...new Set(
        issues.map((i) => {
          const field = [...this.labels.keys()].filter((p) => covers(p, i.path)).sort((a, b) => b.length - a.length)[0];
          return field !== undefined ? this.labels.get(field)! : pathLabel(i.path);
        }),
      ),
    ];
    return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  }

  override render(): TemplateResult {
    if (!this.meta) return html`<h1>${this.heading}</h1>${statusLine(this.status)}<p>Loading…</p>`;
    const f = new Form(this);
    const body = this.renderForm(f);
    this.labels = f.labels;
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
              <ul>${elsewhere.map((i) => html`<li><strong title=${i.path}>${pathLabel(i.path)}</strong>: ${i.message}</li>`)}</ul></div>`
          : nothing}
        ${body}
        <div class="actions sticky">
          <button type="submit" class="primary" ?disabled=${this.saving}>Save</button>
          <button type="button" ?disabled=${!this.dirty || this.saving} @click=${() => void this.load()}>Discard changes</button>
          ${this.dirty ? html`<span class="dirty">Unsaved changes${local ? ` (${local} problem(s) found while typing)` : ''}</span>` : nothing}
          ${statusLine(this.status)}
          ${this.preview ? renderPreview(this.preview) : nothing}
        </div>
      </form>
      ${this.renderConfirm()}`;
  }

  /** The in-page confirmation (a modal <dialog>; Escape or Cancel keeps the draft unsaved). */
  private renderConfirm(): TemplateResult {
    const r = this.preview;
    return html`<dialog class="confirm-save" aria-labelledby="confirm-save-h" aria-describedby="confirm-save-text"
      @close=${() => void this.answer(false)}>
      ${r && this.confirming
        ? html`<h2 id="confirm-save-h">Save a change that refuses requests?</h2>
            <p id="confirm-save-text"><strong>${previewSentence(r)}</strong></p>
            ${previewCodes(r)}
            ${r.byUser.length
              ? html`<p>Most affected: ${r.byUser
                  .filter((u) => u.allowedToDenied > 0)
                  .slice(0, 5)
                  .map((u, i) => html`${i ? ', ' : ''}<strong>${u.name}</strong> (${u.allowedToDenied})`)}.</p>`
              : nothing}
            <p class="help">To find out first without refusing anyone, put the rule in report mode (Access rules, "Report-only rules") and follow it on the Readiness page.</p>
            <div class="actions">
              <button type="button" class="primary danger-fill" @click=${() => void this.answer(true)}>Save anyway</button>
              <button type="button" autofocus @click=${() => void this.answer(false)}>Cancel</button>
            </div>`
        : nothing}
    </dialog>`;
  }
}
