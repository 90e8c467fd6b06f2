// Our API token format, in the spirit of GitHub's (github.blog 2021-04-05 "Behind GitHub's new
// authentication token formats"): a recognisable prefix for secret scanners, 30 base62 characters of
// randomness (~178 bits), and a 6-character base62 CRC32 checksum so a typo or a scraped fragment is
// refused offline, before any database lookup.
//   jas_ + 30 random + 6 checksum, e.g. jas_4Vd8uT0pQm1xYb7Zr2LkA9sGfH3wNc0aBcDe
import { randomBytes } from 'node:crypto';

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_TOKEN_BODY_LENGTH = 30;
export const API_TOKEN_CHECKSUM_LENGTH = 6;

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(s: string): number {
  let c = 0xffffffff;
  for (let i = 0; i < s.length; i++) c = CRC_TABLE[(c ^ s.charCodeAt(i)) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function base62(n: number, width: number): string {
  let out = '';
  for (let i = 0; i < width; i++) {
    out = B62[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

function randomBase62(len: number): string {
  let out = '';
  while (out.length < len) {
    for (const b of randomBytes(len * 2)) {
      if (b < 248 && out.length < len) out += B62[b % 62]; // 248 = 4*62: no modulo bias
    }
  }
  return out;
}

/** A fresh token for `prefix` (e.g. "jas_"). */
export function generateApiToken(prefix: string): string {
  const body = randomBase62(API_TOKEN_BODY_LENGTH);
  return `${prefix}${body}${base62(crc32(prefix + body), API_TOKEN_CHECKSUM_LENGTH)}`;
}

/** Has the shape of one of our tokens (prefix + 36 base62), checksum not yet checked. */
export function looksLikeApiToken(value: string, prefix: string): boolean {
  return value.length === prefix.length + API_TOKEN_BODY_LENGTH + API_TOKEN_CHECKSUM_LENGTH && value.startsWith(prefix) && /^[0-9A-Za-z]+$/.test(value.slice(prefix.length));
}

/** Shape and checksum both right. */
export function hasValidChecksum(value: string, prefix: string): boolean {
  if (!looksLikeApiToken(value, prefix)) return false;
  const body = value.slice(prefix.length, prefix.length + API_TOKEN_BODY_LENGTH);
  return value.slice(prefix.length + API_TOKEN_BODY_LENGTH) === base62(crc32(prefix + body), API_TOKEN_CHECKSUM_LENGTH);
}
