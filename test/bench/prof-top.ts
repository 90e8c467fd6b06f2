// Top self-time functions of a V8 .cpuprofile (from `npm run bench -- --cpu-prof DIR` or
// `node --cpu-prof`):  node --import tsx test/bench/prof-top.ts FILE.cpuprofile [N] [--from MS] [--to MS]
// --from/--to keep the samples of that window only, in ms since the profile started (e.g. the first
// second after a cold start's /readyz: --from READY_MS --to READY_MS+1000).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
process.stdout.on('error', () => process.exit(0)); // piped into head
const argv = process.argv.slice(2);
const flag = (name: string) => {
  const k = argv.indexOf(name);
  return k < 0 ? undefined : Number(argv.splice(k, 2)[1]);
};
const fromMs = flag('--from') ?? 0;
const toMs = flag('--to') ?? Infinity;
const [file, nArg] = argv;
if (!file) throw new Error('usage: prof-top.ts FILE.cpuprofile [N]');
const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[] };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const self = new Map<number, number>();
let total = 0;
let at = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  at += dt;
  if (at < fromMs * 1000 || at >= toMs * 1000) return;
  self.set(id, (self.get(id) ?? 0) + dt);
  total += dt;
});
const key = (n: Node) => {
  const url = n.callFrame.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '');
  return `${n.callFrame.functionName || '(anonymous)'} ${url}:${n.callFrame.lineNumber + 1}`;
};
const selfBy = new Map<string, number>();
const inclBy = new Map<string, number>();
for (const [id, t] of self) {
  selfBy.set(key(byId.get(id)!), (selfBy.get(key(byId.get(id)!)) ?? 0) + t);
  // Inclusive: every distinct frame on the stack gets the sample once.
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const k = key(byId.get(cur)!);
    if (!seen.has(k)) (seen.add(k), inclBy.set(k, (inclBy.get(k) ?? 0) + t));
  }
}
const N = Number(nArg ?? 40);
const idle = [...selfBy].filter(([k]) => k.startsWith('(idle)')).reduce((a, [, t]) => a + t, 0);
// Percentages are of the busy (non-idle) time: what a request costs, not how long it waited.
const pct = (t: number) => ((100 * t) / (total - idle)).toFixed(1).padStart(5);
selfBy.delete('(idle) :0');
process.stdout.write(`total ${(total / 1e6).toFixed(2)} s sampled, idle ${((100 * idle) / total).toFixed(1)} %; percentages below are of busy time\n\nself %  function\n`);
for (const [k, t] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, N)) process.stdout.write(`${pct(t)}  ${k}\n`);
process.stdout.write(`\ninclusive %  function (project code and node:http)\n`);
for (const [k, t] of [...inclBy]
  .filter(([k]) => /dist\/|node:_http|node_modules\/(koa|undici|pino|prom-client|rate-limiter)/.test(k))
  .sort((a, b) => b[1] - a[1])
  .slice(0, N))
  process.stdout.write(`${pct(t)}  ${k}\n`);
