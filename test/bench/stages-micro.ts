// In-process cost of the decision stages and the exit recorders for a cached JWT request (the
// bench's jwt scenario without HTTP): µs of CPU per request, each step's share, and a CPU profile with --cpu-prof.
//   node --import tsx test/bench/stages-micro.ts [iterations]
import { startJiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestIssuer } from '../helpers/issuer.js';
import { startTestSidecar } from '../helpers/sidecar.js';
import { decisionStages } from '../../src/pipeline/index.js';
import type { RequestState } from '../../src/pipeline/state.js';
import { outcomeOf, toAuditRecord } from '../../src/pipeline/outcome.js';
import { encodeRow } from '../../src/audit/encode.js';

const N = Number(process.argv[2] ?? 200_000);
const upstream = await startJiraUpstream();
const issuer = await startTestIssuer();
const sidecar = await startTestSidecar(upstream.url, {
  credentials: { basic: 'deny', jiraPat: 'passthrough', oauth1: 'passthrough', session: 'passthrough', anonymous: 'deny' },
  jwt: { issuers: [{ name: 'bench', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl }, algorithms: ['RS256'], usernameClaim: 'preferred_username', groupsClaim: 'groups' }] },
  rateLimit: { enabled: true, points: 1_000_000_000, durationSec: 60, store: 'memory' },
  audit: { enabled: true },
});
const d = sidecar.runtime.deps;
const steps = decisionStages(d);
const tokens = Array.from({ length: 1000 }, (_, i) => issuer.sign({ aud: 'jira-sidecar', sub: `id-${i}`, preferred_username: `user${i}`, groups: ['jira-users'] }));
const stateFor = (i: number): RequestState => {
  const token = tokens[i % tokens.length]!;
  const headers = { host: '127.0.0.1:18094', authorization: `Bearer ${token}`, 'user-agent': 'wrk' };
  return {
    requestId: crypto.randomUUID(),
    policy: d.getPolicy(),
    facts: { method: 'GET', rawTarget: '/rest/api/2/myself', headers, rawHeaders: Object.entries(headers).flat(), peerIp: '127.0.0.1', receivedAt: Date.now() },
    verdicts: [],
  };
};
async function decide(st: RequestState, upTo = steps.length) {
  for (let k = 0; k < upTo; k++) {
    const r = steps[k]!.run(st, 'proxy');
    if (r) await r;
  }
}
for (let i = 0; i < 3000; i++) await decide(stateFor(i)); // every token verified and cached
const cpu = (f: () => Promise<void>) => async () => {
  const t = process.cpuUsage();
  await f();
  const c = process.cpuUsage(t);
  return (c.user + c.system) / N;
};
// Each measurement builds its states as it goes (as requests arrive): the state alone is `stateUs`.
const base = await cpu(async () => { for (let i = 0; i < N; i++) stateFor(i); })();
const decideUs = (await cpu(async () => { for (let i = 0; i < N; i++) await decide(stateFor(i)); })()) - base;
const recordUs = (await cpu(async () => {
  for (let i = 0; i < N; i++) {
    const st = stateFor(i);
    await decide(st);
    st.upstreamStatus = 200;
    encodeRow(toAuditRecord(st, outcomeOf(st, undefined, 200), Date.now()));
  }
})()) - base - decideUs;
// Each step's share: the steps up to it, less the steps before it (each step reads what the earlier ones set).
const names = ['clientIp', 'routeRules', 'credentials', 'verify', 'authorize', 'rateLimit'];
const perStep: Record<string, number> = {};
let before = 0;
for (let k = 1; k <= steps.length; k++) {
  const upTo = (await cpu(async () => { for (let i = 0; i < N; i++) await decide(stateFor(i), k); })()) - base;
  perStep[names[k - 1] ?? `step${k}`] = +(upTo - before).toFixed(2);
  before = upTo;
}
console.log(JSON.stringify({ iterations: N, stateUs: +base.toFixed(2), decideUs: +decideUs.toFixed(2), auditEncodeUs: +recordUs.toFixed(2), perStepUs: perStep }));
await sidecar.close();
await upstream.close();
await issuer.close();
