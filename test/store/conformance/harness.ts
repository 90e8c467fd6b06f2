// What the conformance suite needs from a backend: a fresh, migrated, empty set of stores per test.
import { afterEach, beforeEach } from 'vitest';
import { fixedClock } from '../../../src/clock.js';
import type { Stores } from '../../../src/store/stores.js';

export interface Backend {
  name: 'sqlite' | 'postgres';
  /** Fresh, migrated, empty stores; `destroy` closes them and removes their data. */
  open(): Promise<{ stores: Stores; destroy(): Promise<void> }>;
  /** A second handle on the same data (another replica, or the CLI next to a running sidecar). */
  reopen?(stores: Stores): Promise<Stores>;
}

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
