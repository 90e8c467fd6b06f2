// IP addresses and CIDR ranges shared by client-ip (trustedProxies) and authorize (allow-lists).
// One normal form everywhere: IPv4-mapped IPv6 (::ffff:1.2.3.4, RFC 4291 §2.5.5.2) is the IPv4
// address it carries, so an allow-list entry 10.0.0.0/8 matches a dual-stack socket's
// "::ffff:10.1.2.3", and "::ffff:10.0.0.0/104" in a config means 10.0.0.0/8.
import ipaddr from 'ipaddr.js';

export type Ip = ipaddr.IPv4 | ipaddr.IPv6;

export interface IpRange {
  readonly source: string;
  readonly addr: Ip;
  readonly bits: number;
}

/**
 * Parses one address strictly: dotted-quad IPv4 only (no "127.1", "0x7f.1" or octal forms, which
 * different parsers read differently) or IPv6 (zone id ignored for matching). Undefined if invalid.
 */
export function parseIp(s: string): Ip | undefined {
  if (s.includes(':')) {
    if (!ipaddr.IPv6.isValid(s)) return undefined;
    const v6 = ipaddr.IPv6.parse(s);
    return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
  }
  return ipaddr.IPv4.isValidFourPartDecimal(s) ? ipaddr.IPv4.parse(s) : undefined;
}

/** "::ffff:10.0.0.1" -> "10.0.0.1", "2001:DB8::0:1" -> "2001:db8::1"; undefined if not an address. */
export function normaliseIp(s: string): string | undefined {
  const ip = parseIp(s);
  if (!ip) return undefined;
  return ip.kind() === 'ipv6' ? (ip as ipaddr.IPv6).toString().replace(/%.*$/, '') : ip.toString();
}

/** "10.0.0.0/8", "2001:db8::/32" or a single address; a TypeError for anything else (setup mistake). */
export function parseRange(source: string): IpRange {
  const slash = source.indexOf('/');
  const addrText = slash < 0 ? source : source.slice(0, slash);
  const ip = addrText.includes(':') && ipaddr.IPv6.isValid(addrText) ? ipaddr.IPv6.parse(addrText) : parseIp(addrText);
  if (!ip) throw new TypeError(`"${source}" is not an IPv4/IPv6 address or CIDR`);
  const max = ip.kind() === 'ipv4' ? 32 : 128;
  const bitsText = slash < 0 ? String(max) : source.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bitsText) || Number(bitsText) > max) throw new TypeError(`"${source}": prefix length must be 0-${max}`);
  let bits = Number(bitsText);
  let addr: Ip = ip;
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    addr = (ip as ipaddr.IPv6).toIPv4Address();
    bits -= 96;
  }
  return Object.freeze({ source, addr, bits });
}

/** Parses a list of ranges (see parseRange). */
export function parseRanges(list: readonly string[]): IpRange[] {
  return list.map(parseRange);
}

/** The first range containing ip, if any (ranges of the other address family never match). */
export function findRange(ip: Ip, ranges: readonly IpRange[]): IpRange | undefined {
  for (const r of ranges) if (r.addr.kind() === ip.kind() && ip.match(r.addr as never, r.bits)) return r;
  return undefined;
}
