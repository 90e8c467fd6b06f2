import { Histogram } from 'prom-client';
import { LATENCY, type Metrics } from './metrics.js';
import type { ExitRecorder } from '../exit.js';
import { outcomeOf } from '../outcome.js';
import type { Clock } from '../../clock.js';

interface Tally {
  labels: { decision: string; code: string; status: string };
  n: number;
}

/** Counts every request by decision/code/status and observes its latency (end of response). */
export function metrics(m: Metrics, clock: Clock): ExitRecorder {
  // prom-client hashes the label object on every inc/observe. The request counter is therefore
  // counted here, per decision/code/status combination (a few dozen exist, nested maps: no key
  // string per request), and handed to prom-client when the registry collects (a scrape reads
  // exact totals). The histogram keeps its labelled children.
  const counters = new Map<string, Map<string, Map<number, Tally>>>();
  const tallies: Tally[] = [];
  const counter = m.requests as { collect?: (this: unknown) => unknown };
  const prevCollect = counter.collect;
  counter.collect = function collectRequests(this: unknown) {
    for (const t of tallies) {
      if (t.n === 0) continue;
      m.requests.inc(t.labels, t.n);
      t.n = 0;
    }
    return prevCollect?.call(this);
  };
  const histograms = new Map<string, { observe(v: number): void }>();
  // The start-up warm-up's requests are observed by an unregistered twin of the latency histogram:
  // prom-client's code is compiled before real traffic, and no exported figure counts them.
  let twin: Histogram<'decision'> | undefined;
  const rehearsals = new Map<string, { observe(v: number): void }>();
  const countOf = (decision: string, code: string, status: number) => {
    let byCode = counters.get(decision);
    if (!byCode) counters.set(decision, (byCode = new Map()));
    let byStatus = byCode.get(code);
    if (!byStatus) byCode.set(code, (byStatus = new Map()));
    let c = byStatus.get(status);
    if (!c) {
      byStatus.set(status, (c = { labels: { decision, code, status: String(status) }, n: 0 }));
      tallies.push(c);
    }
    return c;
  };
  const latencyOf = (decision: string) => {
    let h = histograms.get(decision);
    if (!h) histograms.set(decision, (h = m.latency.labels({ decision })));
    return h;
  };
  return function metrics(st, err, fallbackStatus) {
    const { decision, code, status } = outcomeOf(st, err, fallbackStatus);
    if (st.warmup) {
      let h = rehearsals.get(decision);
      if (!h) rehearsals.set(decision, (h = (twin ??= new Histogram({ ...LATENCY, labelNames: [...LATENCY.labelNames], registers: [] })).labels({ decision })));
      h.observe((clock.now() - st.facts.receivedAt) / 1000);
      return;
    }
    countOf(decision, code, status).n++;
    if (code === 'rate_limited') m.rateLimited.inc(); // refusals only: no cost on an allowed request
    if (st.wouldDeny) for (const c of new Set(st.wouldDeny.map((w) => w.code))) m.wouldDeny.inc({ code: c });
    latencyOf(decision).observe((clock.now() - st.facts.receivedAt) / 1000);
  };
}
