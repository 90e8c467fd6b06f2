// README.md is the user's reference: its error table must equal the ErrorCode catalogue (both ways,
// statuses included) and its settings table must name every setting the schema has a default for.
// If this fails after you added a code or a setting: add its row to README.md (## Error codes /
// ### Settings).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogue, errorCodes } from '../../src/errors.js';
import { configSchema } from '../../src/config/schema.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The lines of the section under `heading` (up to the next heading of the same or higher level). */
function section(heading: string): string[] {
  const lines = README.split('\n');
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README.md has no "${heading}" heading`);
  const level = heading.indexOf(' ');
  const end = lines.findIndex((l, i) => i > start && /^#+ /.test(l) && l.indexOf(' ') <= level);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** Table rows as cells, for rows whose first cell is a `code` span. */
function tableRows(lines: string[]): string[][] {
  return lines
    .filter((l) => /^\|\s*`/.test(l))
    .map((l) =>
      l
        .replace(/^\||\|$/g, '')
        .split('|')
        .map((c) => c.trim()),
    );
}

const unquote = (cell: string) => /^`([^`]+)`$/.exec(cell)?.[1] ?? cell;

/** Leaf paths of a defaults object: objects recurse, arrays/scalars/empty objects are leaves. */
function leafPaths(v: unknown, prefix = ''): string[] {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    return Object.entries(v).flatMap(([k, x]) => leafPaths(x, prefix ? `${prefix}.${k}` : k));
  }
  return [prefix];
}

describe('README error table', () => {
  const rows = tableRows(section('## Error codes'));
  const documented = new Map(rows.map((r) => [unquote(r[0]!), Number(r[1])]));

  it('lists every ErrorCode with its status', () => {
    const missing = errorCodes.filter((c) => !documented.has(c));
    expect(missing, 'codes missing from README "## Error codes"').toEqual([]);
    const wrong = errorCodes.filter((c) => documented.get(c) !== catalogue[c].status).map((c) => `${c}: README ${documented.get(c)}, catalogue ${catalogue[c].status}`);
    expect(wrong, 'statuses that differ').toEqual([]);
  });

  it('lists nothing that is not an ErrorCode, and each code once', () => {
    const unknown = [...documented.keys()].filter((c) => !(c in catalogue));
    expect(unknown, 'README rows that are not in src/errors.ts').toEqual([]);
    expect(rows.length).toBe(documented.size);
  });
});

describe('README settings table', () => {
  const rows = tableRows(section('### Settings'));
  const documented = new Set(rows.map((r) => unquote(r[0]!)));

  it('names every setting that has a default (derived from configSchema.parse({}))', () => {
    const paths = leafPaths(configSchema.parse({}));
    expect(paths.length).toBeGreaterThan(50);
    const missing = paths.filter((p) => !documented.has(p));
    expect(missing, 'settings missing from README "### Settings"').toEqual([]);
  });

  it('documents each default as the schema has it', () => {
    const defaults = configSchema.parse({}) as Record<string, unknown>;
    const get = (p: string) => p.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], defaults);
    const wrong: string[] = [];
    for (const r of rows) {
      const p = unquote(r[0]!);
      const v = get(p);
      if (v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0)) continue;
      const shown = unquote(r[1]!);
      // A table cell cannot hold a line break: a multi-line default is shown with \n (notifications.email.bodyTemplate).
      const expected = typeof v === 'string' ? v.replace(/\n/g, '\\n') : JSON.stringify(v);
      if (shown !== expected) wrong.push(`${p}: README ${shown}, schema ${expected}`);
    }
    expect(wrong).toEqual([]);
  });
});

describe('README quick start', () => {
  it('shows exactly `npm ci && npm test` and `npm ci && npm run demo` first (contract section 1)', () => {
    const blocks = [...section('## Quick start').join('\n').matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());
    expect(blocks.slice(0, 2)).toEqual(['npm ci && npm test', 'npm ci && npm run demo']);
  });
});

describe('README environment table', () => {
  it('names every SIDECAR_* variable the code reads', () => {
    const files = (readdirSync(path.join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(path.join(ROOT, 'src', f), 'utf8').matchAll(/\bSIDECAR_[A-Z][A-Z_]*\b/g)) used.add(m[0]);
    const table = section('### Environment').join('\n');
    const missing = [...used].filter((v) => !table.includes(`\`${v}\``)).sort();
    expect(missing, 'variables missing from README "### Environment"').toEqual([]);
  });
});
