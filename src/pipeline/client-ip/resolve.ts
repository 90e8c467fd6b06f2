// The client address policy is judged by. koa's ctx.ip is the LEFT-most X-Forwarded-For entry,
// which the client writes itself; this is the RIGHT-most entry not added by a trusted proxy
// (the approach of oauth2-proxy pkg/ip/realclientip.go and MDN's X-Forwarded-For security notes):
// each trusted proxy appends the address it saw, so walking from the right, the first address
// that is not a trusted proxy is the last one a trusted party vouched for.
import { perPolicy } from '../../config/policy.js';
import { findRange, normaliseIp, parseIp, parseRanges, type IpRange } from '../ip-match.js';
import type { RequestFacts } from '../state.js';

export interface ClientIpView {
  readonly trustedProxies: readonly IpRange[];
  /** Lower-case header name. "forwarded" is read as RFC 7239 (for= parameters). */
  readonly header: string;
}

export const clientIpView = perPolicy<ClientIpView>((c) =>
  Object.freeze({ trustedProxies: parseRanges(c.access.trustedProxies), header: c.access.clientIpHeader.toLowerCase() }),
);

export interface ClientIpResult {
  ip: string;
  source: 'peer' | 'header';
  detail: string;
  /** Set when the header had an entry that is not an address: the peer was used instead. */
  malformed?: string;
}

/** Longest chain walked; a longer one is treated as malformed (the peer is used). */
const MAX_HOPS = 64;

/** Every value of the header, in arrival order, joined as one list (several header lines form one list, RFC 9110 §5.3). */
function headerList(facts: RequestFacts, name: string): string | undefined {
  const raw = facts.rawHeaders;
  const values: string[] = [];
  if (raw.length > 0) {
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) values.push(raw[i + 1]!);
  } else {
    const h = facts.headers[name];
    if (Array.isArray(h)) values.push(...h);
    else if (typeof h === 'string') values.push(h);
  }
  return values.length ? values.join(',') : undefined;
}

/**
 * One list entry -> address text: "1.2.3.4", "1.2.3.4:5678" (Azure Application Gateway adds
 * ports), "[2001:db8::1]:443", "2001:db8::1"; for Forwarded, the for= parameter of an element
 * (RFC 7239 §4, quoted when it is IPv6). Undefined when there is nothing address-like.
 */
/** The TCP peer is the same few addresses request after request: each is parsed once (bounded memo). */
const peers = new Map<string, { parsed: ReturnType<typeof parseIp>; norm: string }>();
function peerAddress(s: string): { parsed: ReturnType<typeof parseIp>; norm: string } {
  let p = peers.get(s);
  if (!p) {
    if (peers.size >= 4096) peers.clear();
    p = { parsed: parseIp(s), norm: normaliseIp(s) ?? s };
    peers.set(s, p);
  }
  return p;
}

function entryAddress(entry: string, forwarded: boolean): string | undefined {
  let s = entry.trim();
  if (forwarded) {
    const m = /(?:^|;)\s*for\s*=\s*("[^"]*"|[^;\s]*)/i.exec(s);
    if (!m) return undefined;
    s = m[1]!.replace(/^"(.*)"$/, '$1');
  }
  const bracket = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracket) return bracket[1];
  const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  if (v4port) return v4port[1];
  return s;
}

/**
 * Walks the header from the right; the header is believed only when the TCP peer itself is a
 * trusted proxy. Examples with trustedProxies [10.0.0.0/8], peer 10.0.0.5:
 *   "6.6.6.6, 203.0.113.7, 10.0.0.9" -> 203.0.113.7 (6.6.6.6 was written by the client)
 *   "203.0.113.7, garbage"            -> 10.0.0.5 (malformed: peer used, logged)
 * and with peer 198.51.100.1 (not trusted), any header -> 198.51.100.1.
 */
export function resolveClientIp(facts: RequestFacts, view: ClientIpView): ClientIpResult {
  const { parsed: peerParsed, norm: peer } = peerAddress(facts.peerIp);
  if (view.trustedProxies.length === 0) return { ip: peer, source: 'peer', detail: 'peer address (no trustedProxies)' };
  if (!peerParsed || !findRange(peerParsed, view.trustedProxies)) {
    return { ip: peer, source: 'peer', detail: `peer ${peer} is not a trusted proxy: ${view.header} ignored` };
  }
  const list = headerList(facts, view.header);
  if (list === undefined) return { ip: peer, source: 'peer', detail: `trusted peer, no ${view.header}` };
  const entries = list.split(',');
  if (entries.length > MAX_HOPS) return { ip: peer, source: 'peer', detail: 'too many hops', malformed: `${entries.length} entries` };
  const forwarded = view.header === 'forwarded';
  let leftmost: string | undefined;
  for (let i = entries.length - 1; i >= 0; i--) {
    const text = entryAddress(entries[i]!, forwarded);
    const ip = text === undefined ? undefined : parseIp(text);
    if (!ip) {
      return { ip: peer, source: 'peer', detail: `malformed ${view.header} entry: peer used`, malformed: entries[i]!.trim().slice(0, 100) };
    }
    const norm = normaliseIp(text!)!;
    if (!findRange(ip, view.trustedProxies)) return { ip: norm, source: 'header', detail: `${view.header} hop ${entries.length - i} from the right` };
    leftmost = norm;
  }
  // Every hop is a trusted proxy: the request started inside the trusted network.
  return { ip: leftmost!, source: 'header', detail: `every ${view.header} hop is a trusted proxy: left-most used` };
}
