import { describe, expect, it } from 'vitest';
import { policyFrom } from '../../../test/helpers/policy.js';
import type { RequestFacts } from '../state.js';
import { clientIpView, resolveClientIp } from './resolve.js';

const facts = (peerIp: string, headers: Array<[string, string]> = []): RequestFacts => ({
  method: 'GET',
  rawTarget: '/rest/api/2/myself',
  headers: Object.fromEntries(headers.map(([k, v]) => [k.toLowerCase(), v])),
  rawHeaders: headers.flat(),
  peerIp,
  receivedAt: 0,
});

const trusted = { access: { trustedProxies: ['10.0.0.0/8', '2001:db8:ffff::/48'] } };

describe('resolveClientIp', () => {
  const rows: Array<[string, unknown, RequestFacts, string, boolean?]> = [
    ['peer when nothing is trusted', {}, facts('203.0.113.7', [['X-Forwarded-For', '1.1.1.1']]), '203.0.113.7'],
    ['IPv4-mapped peer normalised', {}, facts('::ffff:203.0.113.7'), '203.0.113.7'],
    ['IPv6 peer in canonical form', {}, facts('2001:DB8:0:0::7'), '2001:db8::7'],
    ['untrusted peer: header ignored', trusted, facts('198.51.100.1', [['X-Forwarded-For', '10.0.0.1']]), '198.51.100.1'],
    ['trusted peer, no header', trusted, facts('10.0.0.5'), '10.0.0.5'],
    ['right-most untrusted hop', trusted, facts('10.0.0.5', [['X-Forwarded-For', '6.6.6.6, 203.0.113.7, 10.0.0.9']]), '203.0.113.7'],
    ['client-written left entries are not believed', trusted, facts('10.0.0.5', [['X-Forwarded-For', '10.1.1.1, 203.0.113.7']]), '203.0.113.7'],
    ['several header lines form one list', trusted, facts('10.0.0.5', [['X-Forwarded-For', '6.6.6.6'], ['x-forwarded-for', '203.0.113.8, 10.0.0.2']]), '203.0.113.8'],
    ['trusted peer over IPv4-mapped IPv6', trusted, facts('::ffff:10.0.0.5', [['X-Forwarded-For', '203.0.113.7']]), '203.0.113.7'],
    ['IPv6 client behind IPv6 proxy', trusted, facts('2001:db8:ffff::1', [['X-Forwarded-For', '2001:db8:1::5, 2001:db8:ffff::2']]), '2001:db8:1::5'],
    ['IPv4-mapped entry normalised', trusted, facts('10.0.0.5', [['X-Forwarded-For', '::ffff:203.0.113.9']]), '203.0.113.9'],
    ['port forms (Azure Application Gateway)', trusted, facts('10.0.0.5', [['X-Forwarded-For', '203.0.113.7:51234']]), '203.0.113.7'],
    ['bracketed IPv6 with port', trusted, facts('10.0.0.5', [['X-Forwarded-For', '[2001:db8:1::5]:443']]), '2001:db8:1::5'],
    ['every hop trusted: left-most', trusted, facts('10.0.0.5', [['X-Forwarded-For', '10.9.9.9, 10.0.0.2']]), '10.9.9.9'],
    ['malformed entry: peer', trusted, facts('10.0.0.5', [['X-Forwarded-For', '203.0.113.7, garbage']]), '10.0.0.5', true],
    ['empty entry: peer', trusted, facts('10.0.0.5', [['X-Forwarded-For', '203.0.113.7,,10.0.0.1']]), '10.0.0.5', true],
    ['short IPv4 form is malformed', trusted, facts('10.0.0.5', [['X-Forwarded-For', '127.1']]), '10.0.0.5', true],
    ['malformed left of the answer does not matter', trusted, facts('10.0.0.5', [['X-Forwarded-For', 'garbage, 203.0.113.7']]), '203.0.113.7'],
    ['other header name', { access: { ...trusted.access, clientIpHeader: 'X-Real-IP' } }, facts('10.0.0.5', [['X-Forwarded-For', '1.1.1.1'], ['X-Real-IP', '203.0.113.4']]), '203.0.113.4'],
    ['RFC 7239 Forwarded', { access: { ...trusted.access, clientIpHeader: 'Forwarded' } }, facts('10.0.0.5', [['Forwarded', 'for=6.6.6.6, for="[2001:db8:1::9]:80";proto=https']]), '2001:db8:1::9'],
  ];
  for (const [name, cfg, f, want, malformed] of rows) {
    it(name, () => {
      const r = resolveClientIp(f, clientIpView(policyFrom(cfg)));
      expect(r.ip).toBe(want);
      expect(r.malformed !== undefined).toBe(malformed ?? false);
    });
  }
});
