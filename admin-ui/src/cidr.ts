// Client-side CIDR check for inline feedback while typing; the server's validate() is the authority.

function ipv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && !(p.length > 1 && p.startsWith('0')));
}

function ipv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.includes(':::')) return false;
  let groups = s.split(':');
  let v4 = false;
  const last = groups[groups.length - 1] ?? '';
  if (last.includes('.')) {
    if (!ipv4(last)) return false;
    v4 = true;
    groups = groups.slice(0, -1);
  }
  const doubles = s.split('::').length - 1;
  if (doubles > 1) return false;
  const filled = groups.filter((g) => g !== '');
  if (!filled.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = filled.length + (v4 ? 2 : 0);
  return doubles === 1 ? count < 8 : count === 8;
}

/** Why a value is not an IPv4/IPv6 address or CIDR, or null when it is one. */
export function cidrProblem(value: string): string | null {
  const [addr, bits, extra] = value.split('/');
  if (extra !== undefined || !addr) return `"${value}" is not an IP address or CIDR`;
  const is4 = ipv4(addr);
  const is6 = !is4 && ipv6(addr);
  if (!is4 && !is6) return `"${value}" is not an IPv4/IPv6 address or CIDR (e.g. 10.0.0.0/8, 2001:db8::/32)`;
  if (bits !== undefined) {
    const max = is4 ? 32 : 128;
    if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `"${value}": the prefix length must be 0-${max}`;
  }
  return null;
}
