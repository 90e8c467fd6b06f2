// OpenTelemetry traces (issue 21), off by default: one span per request with the decision, and the
// decision stages and the upstream call as child spans. Built only when `tracing.enabled` is set at
// start (a restart applies it): with tracing off the pipeline has no trace stage at all.
// No secret goes into an attribute: no header value, no token, no query string, no claim.
import { context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Config } from '../../config/schema.js';
import type { IncomingHttpHeaders } from 'node:http';

export interface RequestTracer {
  readonly tracer: Tracer;
  /** The caller's W3C trace context, when the settings trust it for this peer. */
  parentOf(headers: IncomingHttpHeaders): ReturnType<typeof propagation.extract>;
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();
const headerGetter = {
  keys: (h: IncomingHttpHeaders) => Object.keys(h),
  get: (h: IncomingHttpHeaders, k: string) => h[k],
};

export function createRequestTracer(cfg: Config['tracing'], version: string): RequestTracer {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': cfg.serviceName, 'service.version': version }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: cfg.endpoint, timeoutMillis: cfg.exportTimeoutMs }), { scheduledDelayMillis: cfg.flushIntervalMs })],
  });
  return {
    tracer: provider.getTracer('jira-auth-sidecar', version),
    parentOf: (headers) => propagator.extract(ROOT_CONTEXT, headers, headerGetter),
    shutdown: () => provider.shutdown(),
  };
}

/** W3C traceparent of a span (what Jira receives, so its own spans join the trace). */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

export { context, trace, SpanKind, SpanStatusCode };
