// What Jira receives, as a pure function of the request: hop-by-hop (RFC 9110 §7.6.1), spoofable
// identity headers in every spelling, X-Forwarded-*, and identity replacement.
import { describe, expect, it } from 'vitest';
import { compilePolicy } from '../../config/policy.js';
import { validate } from '../../config/validate.js';
import type { RequestState } from '../state.js';
import { buildUpstreamHeaders, connectionListed, dropSessionCookies, filterResponseHeaders, normalizeHeaderName } from './headers.js';

function stateWith(rawHeaders: string[], opts: { peerIp?: string; config?: unknown } = {}): RequestState {
  const v = validate(opts.config ?? { upstream: { sharedSecret: 's3cret', stripHeaders: ['X-Remote-User'] } });
  if (!v.ok) throw new Error(JSON.stringify(v.issues));
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return {
    requestId: 'req-1',
    policy: compilePolicy(v.config),
    facts: { method: 'GET', rawTarget: '/rest/x', headers, rawHeaders, peerIp: opts.peerIp ?? '10.1.2.3', receivedAt: 0 },
    verdicts: [],
  };
}

const build = (raw: string[], extra: Partial<Parameters<typeof buildUpstreamHeaders>[0]> = {}, opts?: Parameters<typeof stateWith>[1]) =>
  buildUpstreamHeaders({ state: stateWith(raw, opts), upstreamHost: 'jira:8080', proto: 'http', ...extra });

/** [name, value] pairs of a flat raw list. */
const pairs = (flat: string[]) => flat.flatMap((_, i) => (i % 2 === 0 ? [[flat[i]!, flat[i + 1]!] as const] : []));
const names = (flat: string[]) => pairs(flat).map(([k]) => normalizeHeaderName(k));
const values = (flat: string[], name: string) => pairs(flat).filter(([k]) => normalizeHeaderName(k) === name).map(([, v]) => v);

describe('normalizeHeaderName', () => {
  it.each([
    ['X-Forwarded-User', 'x-forwarded-user'],
    ['x_forwarded_user', 'x-forwarded-user'],
    ['X_FORWARDED-USER', 'x-forwarded-user'],
  ])('%s -> %s', (a, b) => expect(normalizeHeaderName(a)).toBe(b));
});

describe('connectionListed', () => {
  it('collects every token of every Connection header, normalised', () => {
    expect([...connectionListed(['Connection', 'keep-alive, X-A', 'connection', ' x_b ,,', 'X-A', '1'])].sort()).toEqual(['keep-alive', 'x-a', 'x-b']);
  });
});

describe('buildUpstreamHeaders', () => {
  const rows: Array<[string, string[], string[]]> = [
    ['hop-by-hop fields', ['Connection', 'close', 'Keep-Alive', 't=1', 'TE', 'trailers', 'Trailer', 'X', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Connection', 'x', 'Proxy-Authorization', 'Basic x'], ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection', 'proxy-authorization']],
    ['names listed in Connection', ['Connection', 'X-Hop, x_other', 'X-Hop', '1', 'X-Other', '2', 'x_other', '3'], ['x-hop', 'x-other']],
    ['identity header in every spelling and duplicate', ['X-Forwarded-User', 'a', 'x-forwarded-user', 'b', 'X_Forwarded_User', 'c', 'x_FORWARDED-user', 'd'], ['x-forwarded-user']],
    ['shared secret header', ['X-Sidecar-Secret', 'guess', 'x_sidecar_secret', 'guess'], ['x-sidecar-secret']],
    ['configured strip list', ['X-Remote-User', 'root', 'x_remote_user', 'root'], ['x-remote-user']],
    ['Expect (the sidecar answers 100-continue itself)', ['Expect', '100-continue'], ['expect']],
  ];
  for (const [name, raw, dropped] of rows) {
    it(`drops ${name}`, () => {
      const out = build([...raw, 'X-Keep', 'k']);
      for (const d of dropped) expect(names(out), d).not.toContain(d);
      expect(values(out, 'x-keep')).toEqual(['k']);
    });
  }

  it('replaces the client Host and sets X-Forwarded-Host/-Proto/-For and X-Request-Id', () => {
    const out = build(['Host', 'jira.example.com', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'evil', 'X-Request-Id', 'client-id'], { proto: 'https' });
    expect(values(out, 'host')).toEqual(['jira:8080']);
    expect(values(out, 'x-forwarded-host')).toEqual(['jira.example.com']);
    expect(values(out, 'x-forwarded-proto')).toEqual(['https']);
    expect(values(out, 'x-forwarded-for')).toEqual(['10.1.2.3']);
    expect(values(out, 'x-request-id')).toEqual(['req-1']);
  });

  it('merges every client X-Forwarded-For (any spelling) and appends the peer, IPv4-mapped form unwrapped', () => {
    const out = build(['X-Forwarded-For', '1.1.1.1', 'x_forwarded_for', '2.2.2.2, 3.3.3.3'], {}, { peerIp: '::ffff:10.9.9.9' });
    expect(values(out, 'x-forwarded-for')).toEqual(['1.1.1.1, 2.2.2.2, 3.3.3.3, 10.9.9.9']);
  });

  it('without identity headers (passthrough), Authorization and every cookie are forwarded as they came', () => {
    const out = build(['Authorization', 'Bearer pat', 'Cookie', 'JSESSIONID=abc; theme=dark']);
    expect(values(out, 'authorization')).toEqual(['Bearer pat']);
    expect(values(out, 'cookie')).toEqual(['JSESSIONID=abc; theme=dark']);
  });

  it('with identity headers, Authorization and Jira session cookies are removed and the identity added last', () => {
    const out = build(
      ['Authorization', 'Bearer jwt', 'Cookie', 'JSESSIONID=abc; theme=dark; seraph.rememberme.cookie=x', 'Cookie', 'JSESSIONID=only', 'X-Forwarded-User', 'spoof'],
      { identityHeaders: [['X-Forwarded-User', 'alice'], ['X-Sidecar-Secret', 's3cret']] },
    );
    expect(names(out)).not.toContain('authorization');
    expect(values(out, 'cookie')).toEqual(['theme=dark']);
    expect(values(out, 'x-forwarded-user')).toEqual(['alice']);
    expect(values(out, 'x-sidecar-secret')).toEqual(['s3cret']);
  });
});

describe('dropSessionCookies', () => {
  it.each([
    ['JSESSIONID=a; b=1', 'b=1'],
    ['jsessionid=a', ''],
    ['a=1; atlassian.xsrf.token=t; crowd.token_key=k; c=2', 'a=1; c=2'],
    ['notJSESSIONID=1', 'notJSESSIONID=1'],
  ])('%s -> %s', (inp, out) => expect(dropSessionCookies(inp)).toBe(out));
});

describe('filterResponseHeaders', () => {
  it('drops hop-by-hop fields and names the upstream Connection lists (any spelling)', () => {
    const out = filterResponseHeaders([
      'Connection', 'keep-alive, X-Hop, x_under',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'X-Hop', '1',
      'x_under', '2',
      'Content-Type', 'application/json',
      'Set-Cookie', 'a=1',
      'Set-Cookie', 'b=2',
    ]);
    expect(out).toEqual([
      ['Content-Type', 'application/json'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
    ]);
  });
});
