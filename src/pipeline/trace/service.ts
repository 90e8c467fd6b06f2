// Wires the tracer into a running sidecar: built at start when tracing.enabled (a change applies at
// the next start: the trace stage is composed into the pipeline or not), flushed on shutdown.
import type { Runtime } from '../../http/runtime.js';
import { createRequestTracer, type RequestTracer } from './tracer.js';

declare module '../deps.js' {
  interface Services {
    tracer?: RequestTracer;
  }
}

export function installTracing(rt: Runtime, version: string): void {
  const cfg = rt.deps.getPolicy().config.tracing;
  if (!cfg.enabled) return;
  const t = createRequestTracer(cfg, version);
  rt.deps.services.tracer = t;
  rt.onClose.push(() => t.shutdown());
  rt.deps.logger.info({ endpoint: cfg.endpoint, sampleRatio: cfg.sampleRatio }, 'tracing on: OTLP/HTTP spans, one per request');
}
