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
  constructor(private readonly host: FormHost) {}

  get(path: Path): any {
    return getIn(this.host.draft, path);
  }

  set(path: Path, value: unknown): void {
    setIn(this.host.draft, path, value);
    this.host.dirty = true;
    this.host.requestUpdate();
  }

  private messages(p: string): string[] {
    return [...this.host.issues.filter((i) => covers(p, i.path)).map((i) => (i.path === p ? i.message : `${i.path.slice(p.length)}: ${i.message}`)), ...(this.host.localIssues.get(p) ?? [])];
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

  text(path: Path, label: string, o: FieldOpts & { type?: string } = {}): TemplateResult {
    const p = fmt(path);
    const a = this.aria(p);
    const v = this.get(path);
    return this.wrap(
      p,
      label,
      html`<input id=${a.id} type=${o.type ?? 'text'} .value=${v === undefined || v === null ? '' : String(v)} placeholder=${o.placeholder ?? ''}
        aria-describedby=${a.describedby} aria-invalid=${a.invalid} ?disabled=${a.locked}
        @input=${(e: Event) => {
          const s = (e.target as HTMLInputElement).value;
          this.set(path, s === '' ? undefined : s);
        }} />`,
      o,
    );
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
