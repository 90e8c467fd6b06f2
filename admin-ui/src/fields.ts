// Form fields bound to a configuration draft by path. Every field has a <label>, its help and its
// server message (aria-describedby), so each issue from PUT /api/config shows beside its field.
import { html, nothing, type TemplateResult } from 'lit';
import { MASK, type ConfigMeta, type Issue } from './api.js';

export type Path = Array<string | number>;

/** The options of a rule mode select (enforcement.mode and the families' own credentials.mode, publicApiLockdown.mode, rateLimit.mode). */
export const MODE_OPTIONS: Array<[string, string]> = [
  ['enforce', 'enforce (refuse)'],
  ['report', 'report only (record what would be refused)'],
];

/** ['jwt','issuers',0,'keys'] -> "jwt.issuers[0].keys" (the server's formatPath). */
export function fmt(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out || '(root)';
}

/**
 * The part of an issue's path below its field, in words: "[2]" -> "Line 3", ".jira-users.points" ->
 * "jira-users" (the entry of a "key = value" field). Never "[0]:" in front of a message (issue 22).
 */
export function subLabel(rest: string): string {
  const item = /^\[(\d+)\]/.exec(rest);
  if (item) return `Line ${Number(item[1]) + 1}`;
  return /^\.([^.[]+)/.exec(rest)?.[1] ?? rest;
}

const words = (key: string) => key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/^./, (c) => c.toUpperCase());

/**
 * A setting's path as a person reads it, for a problem shown away from its field:
 * "jwt.issuers[0].audiences" -> "Jwt › Issuers › #1 › Audiences".
 */
export function pathLabel(path: string): string {
  return path
    .split(/\.|(?=\[)/)
    .filter(Boolean)
    .map((p) => (/^\[(\d+)\]$/.test(p) ? `#${Number(p.slice(1, -1)) + 1}` : words(p)))
    .join(' › ');
}

/** True when an issue at `issuePath` belongs to the field at `fieldPath` (itself or an item of it). */
export function covers(fieldPath: string, issuePath: string): boolean {
  return issuePath === fieldPath || issuePath.startsWith(`${fieldPath}[`) || issuePath.startsWith(`${fieldPath}.`);
}

export function getIn(doc: unknown, path: Path): any {
  let cur: any = doc;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[p];
  }
  return cur;
}

export function setIn(doc: Record<string, any>, path: Path, value: unknown): void {
  let cur: any = doc;
  path.slice(0, -1).forEach((p, i) => {
    if (cur[p] === null || typeof cur[p] !== 'object') cur[p] = typeof path[i + 1] === 'number' ? [] : {};
    cur = cur[p];
  });
  const last = path[path.length - 1]!;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
}

export interface FormHost {
  draft: Record<string, any>;
  issues: Issue[];
  meta: ConfigMeta | null;
  /** Text of list/map textareas while being edited (so a new empty line can be typed). */
  rawText: Map<string, string>;
  /** Client-side problems (e.g. CIDR syntax) shown before saving. */
  localIssues: Map<string, string[]>;
  dirty: boolean;
  requestUpdate(): void;
}

interface FieldOpts {
  help?: string | TemplateResult;
  placeholder?: string;
}

const idOf = (p: string) => `f-${p.replace(/[^A-Za-z0-9]+/g, '-')}`;
const lines = (s: string) =>
  s
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);

export class Form {
  /** Paths rendered on this page (issues elsewhere are listed at the top). */
  readonly rendered: string[] = [];
  /** Each rendered field's label by path: a problem is named by the label a person sees, not the path. */
  readonly labels = new Map<string, string>();
  constructor(private readonly host: FormHost) {}

  get(path: Path): any {
    return getIn(this.host.draft, path);
  }

  set(path: Path, value: unknown): void {
    setIn(this.host.draft, path, value);
    // The server's word on this field was about the value before the edit: the typed check speaks now.
    const p = fmt(path);
    if (this.host.issues.some((i) => covers(p, i.path))) this.host.issues = this.host.issues.filter((i) => !covers(p, i.path));
    this.host.dirty = true;
    this.host.requestUpdate();
  }

  private messages(p: string): string[] {
    return [...this.host.issues.filter((i) => covers(p, i.path)).map((i) => (i.path === p ? i.message : `${subLabel(i.path.slice(p.length))}: ${i.message}`)), ...(this.host.localIssues.get(p) ?? [])];
  }

  /** Any issue at or under `path` (server or typed), e.g. to show hidden fields that have a problem. */
  hasIssues(path: Path): boolean {
    const p = fmt(path);
    return this.host.issues.some((i) => covers(p, i.path)) || [...this.host.localIssues.keys()].some((k) => covers(p, k));
  }

  /**
   * The problems about a group of settings as a whole (e.g. "set one of privateKeyPem, privateKeyFile"
   * at upstream.identity.oauth1), shown at the top of the group: only issues at exactly `path`.
   */
  groupIssues(path: Path): TemplateResult {
    const p = fmt(path);
    this.rendered.push(p);
    const msgs = this.host.issues.filter((i) => i.path === p).map((i) => i.message);
    return html`<div class="error" id=${`${idOf(p)}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>`;
  }

  /** Why a field cannot be edited here (set by the environment or a ${VAR} in the file). */
  private lockedBy(p: string): string | null {
    const env = this.host.meta?.envOverrides.find((o) => o.path === p);
    if (env) return `set by the environment variable ${env.variable}`;
    if (this.host.meta?.placeholders.includes(p)) return 'set from a ${VAR} placeholder in the config file';
    return null;
  }

  private wrap(p: string, label: string, control: TemplateResult, o: FieldOpts, kind = ''): TemplateResult {
    this.rendered.push(p);
    this.labels.set(p, label);
    const id = idOf(p);
    const msgs = this.messages(p);
    const locked = this.lockedBy(p);
    return html`<div class="field ${kind} ${msgs.length ? 'invalid' : ''}" data-path=${p}>
      ${kind === 'check' ? control : nothing}<label for=${id}>${label}</label>${kind === 'check' ? nothing : control}
      ${o.help || locked ? html`<div class="help" id=${`${id}-help`}>${locked ? html`<strong>${locked}.</strong> ` : nothing}${o.help ?? nothing}</div>` : nothing}
      <div class="error" id=${`${id}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>
    </div>`;
  }

  private aria(p: string) {
    const id = idOf(p);
    return { id, describedby: `${id}-help ${id}-err`, invalid: this.messages(p).length ? 'true' : 'false', locked: this.lockedBy(p) !== null };
  }

  /** A one-line string; `check` gives inline feedback while typing (null: fine), as list CIDRs do. */
  text(path: Path, label: string, o: FieldOpts & { type?: string; check?: (value: string) => string | null; parse?: (value: string) => unknown } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    return this.wrap(
      p,
      label,
      html`<input id=${a.id} type=${o.type ?? 'text'} .value=${v === undefined || v === null ? '' : String(v)} placeholder=${o.placeholder ?? ''}
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked} spellcheck=${o.check ? 'false' : nothing}
        @input=${(e: Event) => {
          const s = (e.target as HTMLInputElement).value;
          if (o.check) {
            const problem = s === '' ? null : o.check(s);
            if (problem) this.host.localIssues.set(p, [problem]);
            else this.host.localIssues.delete(p);
          }
          this.set(path, s === '' ? undefined : o.parse ? o.parse(s) : s);
        }} />`,
      o,
    );
  }

  /**
   * Several of a fixed list, as checkboxes in a fieldset (JWT algorithms): the stored value is the
   * checked options in the list's order. `min` checked at least, else a problem shown while choosing.
   */
  checks(path: Path, label: string, options: readonly string[], o: FieldOpts & { min?: number } = {}): TemplateResult {
    const p = fmt(path);
    this.rendered.push(p);
    this.labels.set(p, label);
    const id = idOf(p);
    const msgs = this.messages(p);
    const locked = this.lockedBy(p);
    const v = this.get(path);
    const chosen: string[] = Array.isArray(v) ? v : [];
    // A value the list does not know (from the file) stays visible and removable.
    const all = [...options, ...chosen.filter((c) => !options.includes(c))];
    const toggle = (opt: string, on: boolean) => {
      const next = all.filter((x) => (x === opt ? on : chosen.includes(x)));
      if (next.length < (o.min ?? 0)) this.host.localIssues.set(p, [`Pick at least ${o.min === 1 ? 'one' : o.min}.`]);
      else this.host.localIssues.delete(p);
      this.set(path, next);
    };
    return html`<fieldset class="field checks wide ${msgs.length ? 'invalid' : ''}" data-path=${p} id=${id} aria-describedby=${`${id}-help ${id}-err`}>
      <legend>${label}</legend>
      <div class="check-row">
        ${all.map(
          (opt) => html`<label class="check-opt"><input type="checkbox" .checked=${chosen.includes(opt)} value=${opt} ?disabled=${locked !== null} aria-invalid=${msgs.length ? 'true' : 'false'}
              @change=${(e: Event) => toggle(opt, (e.target as HTMLInputElement).checked)} />${opt}</label>`,
        )}
      </div>
      ${o.help || locked ? html`<div class="help" id=${`${id}-help`}>${locked ? html`<strong>${locked}.</strong> ` : nothing}${o.help ?? nothing}</div>` : nothing}
      <div class="error" id=${`${id}-err`} role="alert">${msgs.map((m) => html`<div>${m}</div>`)}</div>
    </fieldset>`;
  }

  /** A multi-line string (PEM blocks). */
  area(path: Path, label: string, o: FieldOpts & { rows?: number } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    return this.wrap(
      p,
      label,
      html`<textarea id=${a.id} rows=${o.rows ?? 5} .value=${typeof v === 'string' ? v : ''} placeholder=${o.placeholder ?? ''} spellcheck="false"
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @input=${(e: Event) => {
          const s = (e.target as HTMLTextAreaElement).value;
          this.set(path, s.trim() === '' ? undefined : s);
        }}></textarea>`,
      o,
      'wide',
    );
  }

  num(path: Path, label: string, o: FieldOpts & { min?: number; max?: number; step?: number } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    return this.wrap(
      p,
      label,
      html`<input id=${a.id} type="number" inputmode=${o.step !== undefined && o.step < 1 ? 'decimal' : 'numeric'} .value=${v === undefined || v === null ? '' : String(v)} min=${o.min ?? nothing} max=${o.max ?? nothing} step=${o.step ?? nothing}
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @input=${(e: Event) => {
          const s = (e.target as HTMLInputElement).value;
          this.set(path, s === '' ? undefined : Number(s));
        }} />`,
      o,
      'num',
    );
  }

  bool(path: Path, label: string, o: FieldOpts = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    return this.wrap(
      p,
      label,
      html`<input id=${a.id} type="checkbox" .checked=${this.get(path) === true} aria-describedby=${a.describedby} ?disabled=${a.locked}
        @change=${(e: Event) => this.set(path, (e.target as HTMLInputElement).checked)} />`,
      o,
      'check',
    );
  }

  select(path: Path, label: string, options: ReadonlyArray<string | [string, string]>, o: FieldOpts & { optional?: boolean } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    return this.wrap(
      p,
      label,
      html`<select id=${a.id} aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @change=${(e: Event) => {
          const s = (e.target as HTMLSelectElement).value;
          this.set(path, s === '' ? undefined : s);
        }}>
        ${o.optional ? html`<option value="" ?selected=${v === undefined}>(not set)</option>` : nothing}
        ${options.map((opt) => {
          const [val, text] = typeof opt === 'string' ? [opt, opt] : opt;
          return html`<option value=${val} ?selected=${v === val}>${text}</option>`;
        })}
      </select>`,
      o,
    );
  }

  /** A list of strings, one per line; `check` gives inline feedback per line before saving; `parse` turns each line into the stored item (numbers). */
  list(path: Path, label: string, o: FieldOpts & { check?: (line: string) => string | null; parse?: (line: string) => unknown; rows?: number } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    const text = this.host.rawText.get(p) ?? (Array.isArray(v) ? v.join('\n') : typeof v === 'string' ? v : '');
    return this.wrap(
      p,
      label,
      html`<textarea id=${a.id} rows=${o.rows ?? 3} .value=${text} placeholder=${o.placeholder ?? 'one per line'} spellcheck="false"
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @input=${(e: Event) => {
          const s = (e.target as HTMLTextAreaElement).value;
          this.host.rawText.set(p, s);
          const items = lines(s);
          if (o.check) {
            const problems = items.map((l) => o.check!(l)).filter((x): x is string => x !== null);
            if (problems.length) this.host.localIssues.set(p, problems);
            else this.host.localIssues.delete(p);
          }
          this.set(path, o.parse ? items.map(o.parse) : items);
        }}></textarea>`,
      { help: o.help ?? 'One per line.' },
      'wide',
    );
  }

  /**
   * A record edited as "key = value" lines. `parse` turns the value text into the stored value
   * (string, list, {points,durationSec}); `show` turns it back.
   */
  map(path: Path, label: string, o: FieldOpts & { parse?: (s: string) => unknown; show?: (v: any) => string; check?: (key: string, value: string) => string | null } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = (this.get(path) ?? {}) as Record<string, unknown>;
    const show = o.show ?? ((x: unknown) => String(x));
    const parse = o.parse ?? ((s: string) => s);
    const text = this.host.rawText.get(p) ?? Object.entries(v).map(([k, x]) => `${k} = ${show(x)}`).join('\n');
    return this.wrap(
      p,
      label,
      html`<textarea id=${a.id} rows="3" .value=${text} placeholder=${o.placeholder ?? 'key = value'} spellcheck="false"
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @input=${(e: Event) => {
          const s = (e.target as HTMLTextAreaElement).value;
          this.host.rawText.set(p, s);
          const out: Record<string, unknown> = {};
          const problems: string[] = [];
          for (const l of lines(s)) {
            const eq = l.indexOf('=');
            if (eq <= 0) {
              problems.push(`"${l}": write "key = value"`);
              continue;
            }
            const key = l.slice(0, eq).trim();
            const val = l.slice(eq + 1).trim();
            const pr = o.check?.(key, val) ?? null;
            if (pr) problems.push(pr);
            out[key] = parse(val);
          }
          if (problems.length) this.host.localIssues.set(p, problems);
          else this.host.localIssues.delete(p);
          this.set(path, out);
        }}></textarea>`,
      o,
      'wide',
    );
  }

  /** Write-only: shows whether it is set; typing replaces it; "Remove" unsets it. */
  secret(path: Path, label: string, o: FieldOpts & { multiline?: boolean } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    const isSet = v !== undefined && v !== null && v !== '';
    const kept = v === MASK;
    const onInput = (e: Event) => {
      const s = (e.target as HTMLInputElement | HTMLTextAreaElement).value;
      this.set(path, s === '' ? (kept || this.host.meta?.secrets.includes(p) ? MASK : undefined) : s);
    };
    const placeholder = isSet ? '(set — type to replace)' : '(not set)';
    const control = o.multiline
      ? html`<textarea id=${a.id} rows="4" .value=${kept ? '' : (v ?? '')} placeholder=${placeholder} spellcheck="false" autocomplete="off"
          aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked} @input=${onInput}></textarea>`
      : html`<input id=${a.id} type="password" autocomplete="new-password" .value=${kept ? '' : (v ?? '')} placeholder=${placeholder}
          aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked} @input=${onInput} />`;
    return this.wrap(
      p,
      label,
      html`<div class="secret">${control}
        ${isSet && !a.locked ? html`<button type="button" class="small" @click=${() => this.set(path, undefined)}>Remove</button>` : nothing}
      </div>`,
      { help: html`${isSet ? 'Set. ' : 'Not set. '}Write-only: never shown again. ${o.help ?? ''}` },
      o.multiline ? 'wide' : '',
    );
  }
}
