import { LATENCY, type Metrics } from './metrics.js';
import type { ExitRecorder } from '../exit.js';
import { outcomeOf } from '../outcome.js';
import type { Clock } from '../../clock.js';

interface Tally {
  labels: { decision: string; code: string; status: string };
  n: number;
}

/** Latencies of one decision since the last scrape: per-bucket counts (the last is above every bound), sum, count. */
interface LatencyTally {
  decision: string;
  counts: number[];
  sum: number;
  n: number;
}

const BOUNDS = LATENCY.buckets;
const latencyTally = (decision: string): LatencyTally => ({ decision, counts: new Array<number>(BOUNDS.length + 1).fill(0), sum: 0, n: 0 });
function observe(t: LatencyTally, seconds: number): void {
  let i = 0;
  while (i < BOUNDS.length && seconds > BOUNDS[i]!) i++;
  t.counts[i]!++;
  t.sum += seconds;
  t.n++;
}

/** prom-client's stored series of a histogram (15.x): one per label set, bucket counts by upper bound, not cumulative. */
interface StoredSeries {
  labels: Record<string, string | number>;
  bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

/** Counts every request by decision/code/status and observes its latency (end of response). */
export function metrics(m: Metrics, clock: Clock): ExitRecorder {
  // prom-client hashes the label object on every inc/observe (about 1.7 µs per request for the
  // histogram alone). The request counter and the latency histogram are therefore counted here, per
  // decision/code/status combination (a few dozen exist, nested maps: no key string per request)
  // and per decision, and handed to prom-client when the registry collects (a scrape reads exact
  // totals; recorder.test.ts compares them with prom-client observing every request).
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
  const latencies = new Map<string, LatencyTally>();
  const histogram = m.latency as unknown as { collect?: (this: unknown) => unknown; hashMap: Record<string, StoredSeries> };
  const prevLatencyCollect = histogram.collect;
  histogram.collect = function collectLatencies(this: unknown) {
    for (const t of latencies.values()) {
      if (t.n === 0) continue;
      const find = () => Object.values(histogram.hashMap).find((s) => s.labels.decision === t.decision);
      let series = find();
      if (!series) {
        m.latency.zero({ decision: t.decision });
        series = find()!;
      }
      // Above the last bound only the count and sum grow (+Inf is the count), as prom-client's own observe.
      for (let i = 0; i < BOUNDS.length; i++) series.bucketValues[BOUNDS[i]!]! += t.counts[i]!;
      series.sum += t.sum;
      series.count += t.n;
      t.counts.fill(0);
      t.sum = 0;
      t.n = 0;
    }
    return prevLatencyCollect?.call(this);
  };
  // The start-up warm-up's requests are observed into a tally nobody reads: the code is compiled
  // before real traffic, and no exported figure counts them.
  const rehearsal = latencyTally('warm-up');
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
    let t = latencies.get(decision);
    if (!t) latencies.set(decision, (t = latencyTally(decision)));
    return t;
  };
  return function metrics(st, err, fallbackStatus) {
    const { decision, code, status } = outcomeOf(st, err, fallbackStatus);
    if (st.warmup) return observe(rehearsal, (clock.now() - st.facts.receivedAt) / 1000);
    countOf(decision, code, status).n++;
    if (code === 'rate_limited') m.rateLimited.inc(); // refusals only: no cost on an allowed request
    if (st.wouldDeny) for (const c of new Set(st.wouldDeny.map((w) => w.code))) m.wouldDeny.inc({ code: c });
    observe(latencyOf(decision), (clock.now() - st.facts.receivedAt) / 1000);
  };
}
