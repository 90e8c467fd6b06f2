// The readiness checks /readyz runs, in one place: the store first, then every check a service
// registered on rt.readiness. The admin Status page (admin/status-routes.ts) shows the same results.
import type { Runtime } from './runtime.js';

export interface ReadinessResult {
  name: string;
  ok: boolean;
  detail?: string;
}

/** Runs every readiness check; a check that throws is not ready, with its message as the detail. */
export async function runReadinessChecks(rt: Runtime): Promise<ReadinessResult[]> {
  const results: ReadinessResult[] = [];
  // 'store' names the database either backend keeps everything in (contract section 8).
  try {
    await rt.stores.ping();
    results.push({ name: 'store', ok: true, detail: rt.stores.kind });
  } catch (e) {
    results.push({ name: 'store', ok: false, detail: `${rt.stores.kind}: ${(e as Error).message}` });
  }
  for (const c of rt.readiness) {
    try {
      results.push({ name: c.name, ...(await c.check()) });
    } catch (e) {
      results.push({ name: c.name, ok: false, detail: (e as Error).message });
    }
  }
  return results;
}
