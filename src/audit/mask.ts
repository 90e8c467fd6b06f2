// Secrets never reach the admin chain: before/after of every admin action are masked here,
// whatever the caller passes (the admin API masks config secrets by path first; this catches the rest).
const SECRET_KEY = /secret|password|token|key|credential/i;
export const MASK = '***';

/**
 * Copy of a value with every string or number under a secret-looking key masked (at any depth:
 * `{clientSecret: "x"}` and `{tokens: {a: "x"}}` both become "***"). Booleans and nulls stay, so
 * "sharedSecret was set/unset" remains visible without the value.
 */
export function maskSecrets(value: unknown, masked = false): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, masked));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = maskSecrets(v, masked || SECRET_KEY.test(k));
    return out;
  }
  if (masked && (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint')) return MASK;
  return value;
}
