// `audit verify` over a whole store: every chain the store holds (each replica's request and admin
// chain), each walked from its anchor by the store.
import type { AuditStore, ChainId, ChainReport } from '../store/audit-store.js';

export interface VerifyAllOptions {
  /** Every 10,000 rows of the chain being walked. */
  onProgress?: (chain: ChainId, checked: number) => void;
  /** As each chain is done (a long walk should not keep the earlier results back). */
  onReport?: (report: ChainReport) => void;
}

/** One report per chain, in the store's order (request chains first). */
export async function verifyAll(store: AuditStore, o: VerifyAllOptions = {}): Promise<ChainReport[]> {
  const reports: ChainReport[] = [];
  for (const chain of await store.chains()) {
    const r = await store.verify(chain, o.onProgress && ((n) => o.onProgress!(chain, n)));
    o.onReport?.(r);
    reports.push(r);
  }
  return reports;
}
