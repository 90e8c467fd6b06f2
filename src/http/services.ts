// Builds the stage-owned services for a runtime (verifiers, token store, limiter, audit sink ...).
// Each stage owner adds one line here.
import type { Runtime } from './runtime.js';

export async function buildServices(_rt: Runtime): Promise<void> {}
