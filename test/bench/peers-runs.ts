// The README's table of peers runs (Performance, "Every run of the harness"), made from the logs
// kept in docs/bench/ (copies of ../shared/bench-peers' results-*.md):
//   node --import tsx test/bench/peers-runs.ts [DIR]
// One row per log: the sidecar's and Apache's "CPU ÷ upstream's", their ratio, the sidecar's req/s
// over the bare Node passthrough's, both p99s; then the ratios' range and median.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2] ?? path.join(import.meta.dirname, '../../docs/bench');
const files = readdirSync(dir)
  .filter((f) => /^results-\d{4}-\d\d-\d\d-\d{6}\.md$/.test(f))
  .sort();
if (!files.length) throw new Error(`no results-*.md in ${dir}`);

/** A target's row of the results table, split into cells (the first table of the log). */
function row(text: string, target: string, file: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`| ${target} |`) && /^\| [^|]+ \| [^|]+ \| \d/.test(l));
  if (!line) throw new Error(`${file}: no results row for ${target}`);
  return line.split('|').map((c) => c.trim());
}
// Cells: 1 target, 2 what, 3 req/s, 4 p50, 5 p99, 6 vs upstream, 7 vs nginx, 8 vs node-bare, 9 CPU µs/req, 10 CPU ÷ upstream's.
const ratios: number[] = [];
const lines = files.map((f) => {
  const text = readFileSync(path.join(dir, f), 'utf8');
  const s = row(text, 'sidecar', f);
  const a = row(text, 'apache-oidc', f);
  const ratio = Number(s[10]) / Number(a[10]);
  ratios.push(ratio);
  const [, , hh, mm] = /results-(\d{4}-\d\d-\d\d)-(\d\d)(\d\d)/.exec(f)!;
  return `| ${hh}:${mm} | \`…-${f.slice(-9)}\` | ${s[10]} | ${a[10]} | **${ratio.toFixed(2)} ×** | ${Number(s[8]).toFixed(2)} × | ${Number(s[5]).toFixed(1)} / ${Number(a[5]).toFixed(1)} |`;
});
const sorted = [...ratios].sort((x, y) => x - y);
const mid = sorted.length / 2;
const median = sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
process.stdout.write(
  [
    '| run (UTC) | log | sidecar | Apache | ratio | req/s ÷ bare Node | p99 sidecar / Apache ms |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...lines,
    '',
    `${files.length} runs: ${sorted[0]!.toFixed(2)}–${sorted.at(-1)!.toFixed(2)} ×, median ${median.toFixed(2)} ×`,
    '',
  ].join('\n'),
);
