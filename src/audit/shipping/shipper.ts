// Ships the request log to one destination, at least once and in id order per replica chain.
//
// A pass: under the destination's shipping lock (store/shipping-store.ts: on PostgreSQL one replica
// of the cluster at a time, covering every replica's chain), for each request chain read the rows
// after the destination's cursor (AuditStore.readChain, by id), send them as one batch, and only
// then advance the cursor. A batch the receiver did not confirm is sent again, whole, on the next
// attempt; a restart resumes at the stored cursor. Chains take turns one batch at a time, so a long
// backlog in one does not hold up the others.
//
// The loop: a pass every flushIntervalMs; after a failure the next attempt waits 1 s, doubling,
// at most maxBackoffMs. An outage is logged once when it starts and once when it ends. Nothing here
// touches readiness: a SIEM that is down delays shipping, never requests (the cursor waits).
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import type { Metrics } from '../../pipeline/metrics/metrics.js';
import type { AuditRow, AuditStore, ChainId } from '../../store/audit-store.js';
import type { ShippingCursorStore } from '../../store/shipping-store.js';
import type { Destination } from './destination.js';

/** The first retry waits this long (capped by maxBackoffMs), then twice as long each time. */
export const FIRST_BACKOFF_MS = 1000;

export interface ShipperOptions {
  destination: Destination;
  audit: AuditStore;
  cursors: ShippingCursorStore;
  batchRows: number;
  flushIntervalMs: number;
  maxBackoffMs: number;
  clock: Clock;
  logger: Logger;
  metrics?: Pick<Metrics, 'auditShipped' | 'auditShippingFailures' | 'auditShippingLagRows' | 'auditShippingLagSeconds'>;
}

export interface PassResult {
  /** False: another replica holds the destination's lock (it ships meanwhile). */
  ran: boolean;
  /** Rows sent and confirmed in this pass. */
  shipped: number;
}

export interface ShippingLag {
  /** Rows written (by any replica) and not yet shipped. */
  rows: number;
  /** Age of the oldest of them in seconds; 0 when there is none. */
  seconds: number;
}

const chainKey = (c: ChainId) => `${c.kind}\u0000${c.replica}`;

export class Shipper {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Failed attempts in a row (0: not in an outage) and when the outage began. */
  private failures = 0;
  private outageSince = 0;
  /** Chains whose rows retention deleted before they were shipped, reported once per gap. */
  private readonly gapsReported = new Set<string>();
  /** The pass under way (or done): the next waits for it. */
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly o: ShipperOptions) {}

  get name(): string {
    return this.o.destination.name;
  }

  /** Starts the loop (a pass at once, then every flushIntervalMs). */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops the loop: a batch in flight is abandoned (its cursor does not move; it is sent again next time). */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake?.();
    await this.loop;
    await this.o.destination.close().catch(() => {});
  }

  /** The wait before the next attempt after `failures` failed ones in a row. */
  backoffMs(failures = this.failures): number {
    return Math.min(this.o.maxBackoffMs, FIRST_BACKOFF_MS * 2 ** Math.min(30, Math.max(0, failures - 1)));
  }

  /** Where it ships, fit for a log line. */
  get target(): string {
    return this.o.destination.target;
  }

  /**
   * One pass: everything written so far, if this replica gets the lock. Throws when a batch or the
   * store failed. Passes of one shipper run one after another (the loop's and one asked for), so a
   * cursor is never read by two of them at once.
   */
  pass(): Promise<PassResult> {
    const run = this.tail.then(async (): Promise<PassResult> => {
      const r = await this.o.cursors.withShipperLock(this.name, () => this.shipPending());
      return r.ran ? { ran: true, shipped: r.value } : { ran: false, shipped: 0 };
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Rows not yet shipped, every replica's chain together (from any replica, lock or not). */
  async lag(): Promise<ShippingLag> {
    const { audit } = this.o;
    const chains = (await audit.chains()).filter((c) => c.kind === 'request');
    const cursors = new Map((await this.o.cursors.cursors(this.name)).map((c) => [chainKey(c.chain), c.lastId]));
    let rows = 0;
    let oldest = Infinity;
    for (const chain of chains) {
      const first = (await audit.readChain(chain, cursors.get(chainKey(chain)) ?? 0, 1)).rows[0] as AuditRow | undefined;
      if (!first) continue;
      const head = await audit.headOf(chain);
      rows += Math.max(0, head.id - first.id + 1);
      oldest = Math.min(oldest, first.time);
    }
    return { rows, seconds: rows > 0 && Number.isFinite(oldest) ? Math.max(0, (this.o.clock.now() - oldest) / 1000) : 0 };
  }

  private async shipPending(): Promise<number> {
    const { audit, cursors, destination } = this.o;
    const signal = this.abort.signal;
    const chains = (await audit.chains()).filter((c) => c.kind === 'request');
    const after = new Map((await cursors.cursors(this.name)).map((c) => [chainKey(c.chain), c.lastId]));
    let shipped = 0;
    let pending = chains;
    while (pending.length > 0 && !signal.aborted) {
      const next: ChainId[] = [];
      for (const chain of pending) {
        if (signal.aborted) break;
        const key = chainKey(chain);
        const from = after.get(key) ?? 0;
        const read = await audit.readChain(chain, from, this.o.batchRows);
        if (read.kind !== 'request' || read.rows.length === 0) continue;
        const rows = read.rows;
        this.noteGap(chain, from, rows[0]!.id);
        await destination.send(rows, signal);
        const last = rows[rows.length - 1]!.id;
        await cursors.advance(this.name, chain, last, this.o.clock.now());
        after.set(key, last);
        shipped += rows.length;
        this.o.metrics?.auditShipped.inc({ destination: this.name }, rows.length);
        if (rows.length >= this.o.batchRows) next.push(chain);
      }
      pending = next;
    }
    return shipped;
  }

  /** Rows between the cursor and the first row still there were deleted (retention) before they were shipped. */
  private noteGap(chain: ChainId, from: number, firstId: number): void {
    if (from === 0 || firstId === from + 1) return;
    const key = `${chainKey(chain)}\u0000${from}`;
    if (this.gapsReported.has(key)) return;
    this.gapsReported.add(key);
    this.o.logger.warn(
      { destination: this.name, replica: chain.replica, firstMissing: from + 1, lastMissing: firstId - 1 },
      'audit shipping: rows were deleted by retention before they were shipped (audit.retentionDays / audit.maxEntries)',
    );
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let ok = true;
      try {
        await this.pass();
        this.recovered();
      } catch (e) {
        if (signal.aborted) break;
        ok = false;
        this.failed(e);
      }
      await this.updateLag();
      await this.sleep(ok ? this.o.flushIntervalMs : this.backoffMs());
    }
  }

  private failed(e: unknown): void {
    this.failures++;
    this.o.metrics?.auditShippingFailures.inc({ destination: this.name });
    const detail = { destination: this.name, target: this.o.destination.target, err: (e as Error)?.message ?? String(e) };
    if (this.failures === 1) {
      this.outageSince = this.o.clock.now();
      this.o.logger.warn(
        { ...detail, retryInMs: this.backoffMs(), maxBackoffMs: this.o.maxBackoffMs },
        'audit shipping failed; retrying with backoff (rows wait at the cursor, nothing is lost)',
      );
    } else {
      this.o.logger.debug({ ...detail, failures: this.failures, retryInMs: this.backoffMs() }, 'audit shipping still failing');
    }
  }

  private recovered(): void {
    if (this.failures === 0) return;
    this.o.logger.info(
      { destination: this.name, target: this.o.destination.target, failedAttempts: this.failures, outageMs: this.o.clock.now() - this.outageSince },
      'audit shipping resumed',
    );
    this.failures = 0;
  }

  private async updateLag(): Promise<void> {
    const m = this.o.metrics;
    if (!m) return;
    try {
      const lag = await this.lag();
      m.auditShippingLagRows.set({ destination: this.name }, lag.rows);
      m.auditShippingLagSeconds.set({ destination: this.name }, lag.seconds);
    } catch {
      // The store is out of reach: the pass failed too and says so; the gauges keep their last value.
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.abort.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
