// POST /api/test: the decision the proxy would make for a described request, from the same stages
// (pipeline/evaluate.ts) in 'test' mode: no rate-limit point used, nothing stamped, Jira never called.
import type Router from '@koa/router';
import ipaddr from 'ipaddr.js';
import type { Runtime } from '../http/runtime.js';
import { evaluate } from '../pipeline/evaluate.js';
import type { RequestFacts } from '../pipeline/state.js';
import { fieldError, optString, readJson, reqString } from './http-util.js';

const METHOD = /^[A-Z]{1,20}$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
/** A value that already names its scheme ("Basic …", "Bearer …") is used as the Authorization header as is. */
const HAS_SCHEME = /^(Bearer|Basic|Negotiate|OAuth|Token)\s+\S/i;

/** {token?, method, path, ip?, headers?} -> RequestFacts, or a 400 naming the bad field. */
export function factsFromBody(body: Record<string, unknown>, now: number): RequestFacts {
  const method = reqString(body, 'method', 20).toUpperCase();
  if (!METHOD.test(method)) throw fieldError('method', 'must be an HTTP method such as GET or POST');
  const path = reqString(body, 'path', 8192);
  if (!path.startsWith('/')) throw fieldError('path', 'must start with "/" (e.g. /rest/api/2/myself)');
  const ip = optString(body, 'ip', 100) ?? '127.0.0.1';
  if (!ipaddr.isValid(ip)) throw fieldError('ip', 'must be an IPv4 or IPv6 address');
  const headers: Record<string, string> = {};
  const rawHeaders: string[] = [];
  if (body.headers !== undefined && body.headers !== null) {
    if (typeof body.headers !== 'object' || Array.isArray(body.headers)) throw fieldError('headers', 'must be an object of header name -> value');
    for (const [k, v] of Object.entries(body.headers as Record<string, unknown>)) {
      if (!HEADER_NAME.test(k)) throw fieldError(`headers.${k}`, 'is not a valid header name');
      if (typeof v !== 'string' || /[\r\n\0]/.test(v)) throw fieldError(`headers.${k}`, 'must be a single-line string');
      headers[k.toLowerCase()] = v;
      rawHeaders.push(k, v);
    }
  }
  const token = optString(body, 'token', 65536)?.trim();
  if (token) {
    const auth = HAS_SCHEME.test(token) ? token : `Bearer ${token}`;
    headers.authorization = auth;
    for (let i = rawHeaders.length - 2; i >= 0; i -= 2) if (rawHeaders[i]!.toLowerCase() === 'authorization') rawHeaders.splice(i, 2);
    rawHeaders.push('Authorization', auth);
  }
  headers.host ??= 'jira.test';
  return { method, rawTarget: path, headers, rawHeaders, peerIp: ip, receivedAt: now };
}

export function registerTestRoute(router: Router, rt: Runtime): void {
  router.post('/api/test', async (ctx) => {
    const facts = factsFromBody(await readJson(ctx), rt.deps.clock.now());
    const { decision } = await evaluate(facts, rt.deps, `test-${ctx.state.requestId as string}`);
    ctx.body = { decision, request: { method: facts.method, path: facts.rawTarget, ip: facts.peerIp } };
  });
}
