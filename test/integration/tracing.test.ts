// OpenTelemetry traces (issue 21) against a local OTLP/HTTP receiver: one server span per request
// with the decision, a child span per decision stage and one for the call to Jira; Jira receives the
// request's span as its W3C traceparent; a caller's traceparent is continued only when trusted; no
// secret (token, password, Authorization, query) appears anywhere in what is exported; with tracing
// off the pipeline has no trace stage and a caller's traceparent reaches Jira untouched.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startJiraUpstream, type JiraUpstream } from '../../src/demo/jira-upstream.js';
import { startTestSidecar, type TestSidecar } from '../helpers/sidecar.js';
import { startTestIssuer, type TokenIssuer } from '../helpers/issuer.js';
import { rawRequest, until } from '../helpers/http.js';
import { stages } from '../../src/pipeline/index.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
}

let upstream: JiraUpstream;
let issuer: TokenIssuer;
let collector: http.Server;
let endpoint: string;
const bodies: string[] = [];
let traced: TestSidecar;
let plain: TestSidecar;

const spans = (): OtlpSpan[] =>
  bodies.flatMap((b) => (JSON.parse(b) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: OtlpSpan[] }> }> }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
const attrs = (s: OtlpSpan) => Object.fromEntries(s.attributes.map((a) => [a.key, Object.values(a.value)[0]]));
const jwtFor = (u: string) => issuer.sign({ aud: 'jira-sidecar', preferred_username: u, groups: ['jira-users'] });

beforeAll(async () => {
  upstream = await startJiraUpstream();
  issuer = await startTestIssuer();
  collector = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(b);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
  const jwt = { issuers: [{ name: 'test', issuer: issuer.url, audiences: ['jira-sidecar'], keys: { jwksUri: issuer.jwksUrl } }] };
  traced = await startTestSidecar(upstream.url, { jwt, access: { trustedProxies: ['127.0.0.1/32'] }, tracing: { enabled: true, endpoint, flushIntervalMs: 50 } });
  plain = await startTestSidecar(upstream.url, { jwt });
});

afterAll(async () => {
  await traced?.close();
  await plain?.close();
  await upstream?.close();
  await issuer?.close();
  collector?.close();
});

describe('tracing on', () => {
  it('one server span per request with the decision, stage and upstream child spans; Jira gets its traceparent', async () => {
    const token = jwtFor('alice');
    const r = await rawRequest(traced.proxyUrl, { path: '/rest/api/2/issue/DEMO-1?jql=secret-query', headers: [['Authorization', `Bearer ${token}`]] });
    expect(r.status).toBe(200);
    const requestId = String(r.headers['x-request-id']);
    await until(() => spans().some((s) => attrs(s)['sidecar.request_id'] === requestId), 'the span exported');
    const root = spans().find((s) => attrs(s)['sidecar.request_id'] === requestId)!;
    expect(root.kind).toBe(2); // SERVER
    expect(root.name).toBe('GET guarded');
    expect(attrs(root)).toMatchObject({ 'sidecar.decision': 'allow', 'sidecar.code': 'allowed', 'url.path': '/rest/api/2/issue/DEMO-1', 'enduser.id': 'alice', 'sidecar.credential_kind': 'jwt' });
    await until(() => spans().filter((s) => s.parentSpanId === root.spanId).length >= 7, 'the child spans');
    const children = spans().filter((s) => s.parentSpanId === root.spanId).map((s) => s.name).sort();
    expect(children).toEqual(['stage authorize', 'stage client-ip', 'stage credentials', 'stage rate-limit', 'stage route-rules', 'stage verify', 'upstream Jira'].sort());
    const seen = upstream.seen.at(-1)!;
    expect(seen.headers.traceparent).toBe(`00-${root.traceId}-${root.spanId}-01`);
    // No secret anywhere in what was exported.
    const all = bodies.join('\n');
    for (const secret of [token, token.split('.')[2]!, 'secret-query', 'Bearer']) expect(all).not.toContain(secret);
  });

  it("a trusted caller's traceparent is continued, and the refusal is on the span", async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const r = await rawRequest(traced.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', 'Bearer jas_wrong'], ['traceparent', `00-${callerTrace}-${callerSpan}-01`]] });
    expect(r.status).toBe(401);
    const requestId = String(r.headers['x-request-id']);
    await until(() => spans().some((s) => attrs(s)['sidecar.request_id'] === requestId), 'the span exported');
    const root = spans().find((s) => attrs(s)['sidecar.request_id'] === requestId)!;
    expect(root.traceId).toBe(callerTrace);
    expect(root.parentSpanId).toBe(callerSpan);
    expect(attrs(root)).toMatchObject({ 'sidecar.decision': 'deny', 'sidecar.code': 'token_invalid', 'sidecar.stage': 'credentials', 'http.response.status_code': 401 });
    expect(bodies.join('\n')).not.toContain('jas_wrong');
  });

  it('a caller outside trustedProxies starts a new trace (acceptTraceparent: trusted-proxies)', async () => {
    traced.runtime.applyConfig({ ...traced.runtime.deps.getPolicy().config, access: { ...traced.runtime.deps.getPolicy().config.access, trustedProxies: [] } });
    const r = await rawRequest(traced.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${jwtFor('bob')}`], ['traceparent', '00-11111111111111111111111111111111-2222222222222222-01']] });
    const requestId = String(r.headers['x-request-id']);
    await until(() => spans().some((s) => attrs(s)['sidecar.request_id'] === requestId), 'the span exported');
    const root = spans().find((s) => attrs(s)['sidecar.request_id'] === requestId)!;
    expect(root.traceId).not.toBe('11111111111111111111111111111111');
    expect(root.parentSpanId ?? '').toBe('');
    expect(upstream.seen.at(-1)!.headers.traceparent).toBe(`00-${root.traceId}-${root.spanId}-01`);
  });
});

describe('tracing off (the default)', () => {
  it('composes no trace stage, and a caller traceparent reaches Jira as sent', async () => {
    expect(stages(plain.runtime.deps).length).toBe(stages(traced.runtime.deps).length - 1);
    const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const r = await rawRequest(plain.proxyUrl, { path: '/rest/api/2/myself', headers: [['Authorization', `Bearer ${jwtFor('carol')}`], ['traceparent', tp]] });
    expect(r.status).toBe(200);
    expect(upstream.seen.at(-1)!.headers.traceparent).toBe(tp);
  });
});
