// The storage conformance suite: every concern's tests, written once against the interfaces
// (src/store/*-store.ts) and run unchanged on each backend. Shape after oauth2-proxy's
// RunSessionStoreTests (pkg/sessions/tests), called from each store's own test file.
import type { Backend } from './harness.js';
import { tokenStoreConformance } from './tokens.js';
import { adminStoreConformance } from './admin.js';
import { configStoreConformance } from './config.js';
import { credentialStoreConformance } from './credentials.js';
import { auditStoreConformance } from './audit.js';
import { lifecycleStoreConformance } from './lifecycle.js';
import { shippingStoreConformance } from './shipping.js';
import { verdictStoreConformance } from './verdicts.js';

export type { Backend };

export function storeConformance(backend: Backend): void {
  tokenStoreConformance(backend);
  adminStoreConformance(backend);
  configStoreConformance(backend);
  credentialStoreConformance(backend);
  auditStoreConformance(backend);
  lifecycleStoreConformance(backend);
  shippingStoreConformance(backend);
  verdictStoreConformance(backend);
}
