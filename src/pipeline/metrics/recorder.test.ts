// The recorder counts requests and latencies itself and hands the totals to prom-client when the
// registry collects: a scrape must read exactly what prom-client's own counter and histogram would
// have read, had every request been observed one by one.
import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { createMetrics, LATENCY } from './metrics.js';
import { metrics as recorder } from './recorder.js';
import type { RequestState } from '../state.js';

/** A request that arrived at `receivedAt` and ended as given. */
function state(receivedAt: number, end: 'allow' | 'deny' | 'passthrough', warmup = false): RequestState {
  return {
    facts: { receivedAt },
    identity: end === 'allow' ? { username: 'u' } : undefined,
    refusal: end === 'deny' ? { code: 'token_invalid', status: 401 } : undefined,
    upstreamStatus: end === 'deny' ? undefined : 200,
    warmup,
  } as unknown as RequestState;
}

/** The series of one metric in the exposition text, in order. */
const series = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(name));

/** Histogram lines equal, except that sums may differ in the last bits (added per scrape, not per request). */
function expectSameHistogram(got: string, want: string): void {
  const name = 'sidecar_request_duration_seconds';
  const exact = (t: string) => series(t, name).filter((l) => !l.startsWith(`${name}_sum`));
  expect(exact(got)).toEqual(exact(want));
  const sums = (t: string) => series(t, `${name}_sum`).map((l) => Number(l.split(' ')[1]));
  const [a, b] = [sums(got), sums(want)];
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => expect(x).toBeCloseTo(b[i]!, 9));
}

describe('metrics recorder', () => {
  it('a scrape reads what prom-client would read with every request observed one by one, across scrapes', async () => {
    const m = createMetrics(false);
    let now = 0;
    const record = recorder(m, { now: () => now });
    // The reference: prom-client's own metrics, observed per request.
    const ref = new Registry();
    const refLatency = new Histogram({ ...LATENCY, labelNames: [...LATENCY.labelNames], registers: [ref] });
    const refRequests = new Counter({ name: 'sidecar_requests_total', help: 'Requests by decision (allow, deny, passthrough, error), reason code and response status', labelNames: ['decision', 'code', 'status'], registers: [ref] });
    // Latencies on and between every bound, above the last one, and zero.
    const latenciesMs = [0, 1, 1.5, 2.5, 4, 5, 9, 10, 25, 60, 100, 250, 499, 500, 1000, 2500, 7000, 10_000, 30_000, 45_000];
    const ends = ['allow', 'deny', 'passthrough'] as const;
    const run = (round: number) => {
      latenciesMs.forEach((ms, i) => {
        const end = ends[(i + round) % 3]!;
        const st = state(1_000_000, end);
        now = 1_000_000 + ms;
        record(st, undefined, 200);
        const decision = end;
        refLatency.observe({ decision }, ms / 1000);
        refRequests.inc({ decision, code: end === 'deny' ? 'token_invalid' : 'allowed', status: end === 'deny' ? '401' : '200' });
      });
    };
    run(0);
    const first = await m.registry.metrics();
    const refFirst = await ref.metrics();
    expectSameHistogram(first, refFirst);
    expect(series(first, 'sidecar_requests_total')).toEqual(series(refFirst, 'sidecar_requests_total'));
    expect(series(first, 'sidecar_request_duration_seconds_count{decision="allow"}')).toEqual(['sidecar_request_duration_seconds_count{decision="allow"} 7']);
    // More requests after a scrape add to the totals; a scrape with nothing new changes nothing.
    run(1);
    run(2);
    expectSameHistogram(await m.registry.metrics(), await ref.metrics());
    expectSameHistogram(await m.registry.metrics(), await ref.metrics());
    expect(series(await m.registry.metrics(), 'sidecar_request_duration_seconds_count{decision="deny"}')).toEqual(['sidecar_request_duration_seconds_count{decision="deny"} 20']);
  });

  it("does not count or time the start-up warm-up's own requests", async () => {
    const m = createMetrics(false);
    let now = 0;
    const record = recorder(m, { now: () => now });
    now = 5;
    for (let i = 0; i < 50; i++) record(state(0, i % 2 ? 'allow' : 'deny', true), undefined, 200);
    const text = await m.registry.metrics();
    expect(series(text, 'sidecar_request_duration_seconds_count')).toEqual([]);
    expect(series(text, 'sidecar_requests_total{')).toEqual([]);
    record(state(0, 'allow'), undefined, 200);
    expect(series(await m.registry.metrics(), 'sidecar_request_duration_seconds_count')).toEqual(['sidecar_request_duration_seconds_count{decision="allow"} 1']);
  });
});
