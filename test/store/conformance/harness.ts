// What the conformance suite needs from a backend: a fresh, migrated, empty set of stores per test.
import { afterEach, beforeEach } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import type { Stores } from '../../../src/store/stores.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Fresh, migrated, empty stores; `destroy` closes them and removes their data. */
  open(): Promise<{ stores: Stores; destroy(): Promise<void> }>;
  /**
   * A second handle on the same data (another replica, or the CLI next to a running sidecar), named
   * `replica` (default: the same name as `stores`). Closed by the original's `destroy`. Absent on
   * a backend that is one replica by design (SQLite): the multi-replica cases skip there.
   */
  reopen?(stores: Stores, replica?: string): Promise<Stores>;
  /**
   * Test only: changes one stored audit row the way someone with write access to the database
   * would, so the suite can check that verify notices. Absent: those cases skip.
   */
  tamperAudit?(stores: Stores, t: AuditTamper): Promise<void>;
}

/** One audit row to change (`set`: columns as stored, snake_case) or to delete. */
export type AuditTamper = { table: 'audit_log' | 'admin_audit'; replica: string; id: number } & (
  | { set: Record<string, string | number | null> }
  | { delete: true }
);

export const T0 = Date.UTC(2026, 0, 1);

export interface Fixture {
  stores: Stores;
  clock: ReturnType<typeof fixedClock>;
  backend: Backend;
}

/** beforeEach/afterEach opening fresh stores; `use` gets each test's fixture. */
export function useStores(backend: Backend, use: (f: Fixture) => void): void {
  let destroy: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    const o = await backend.open();
    destroy = o.destroy;
    use({ stores: o.stores, clock: fixedClock(T0), backend });
  });
  afterEach(async () => {
    await destroy?.();
    destroy = undefined;
  });
}

/** A second fresh, empty set of stores on the same backend for one test (where a dump is restored). */
export async function withFreshStores<T>(backend: Backend, fn: (stores: Stores) => Promise<T>): Promise<T> {
  const o = await backend.open();
  try {
    return await fn(o.stores);
  } finally {
    await o.destroy();
  }
}
