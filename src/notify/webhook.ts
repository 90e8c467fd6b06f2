// The notification webhook: one JSON POST per event, signed with HMAC-SHA256 of the raw body
// (notifications.webhook.secret):
//   X-Sidecar-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>
//   X-Sidecar-Timestamp: <the body's `time`, Unix seconds>   (signed through the body)
//   X-Sidecar-Delivery:  <delivery id, the same on every attempt: for deduplication>
// A receiver recomputes the HMAC over the bytes it received, compares in constant time, and refuses
// a body whose `time` is too old (a replay). Attempts: up to webhook.maxAttempts, webhook.timeoutMs
// each, exponential backoff between them; 2xx is delivered, a network error, a timeout, 408, 429
// and 5xx are tried again, any other answer (a redirect, 4xx: the receiver refused it) fails at once.
import { createHmac } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Sidecar-Signature';
export const TIMESTAMP_HEADER = 'X-Sidecar-Timestamp';
export const DELIVERY_HEADER = 'X-Sidecar-Delivery';

export interface WebhookBody {
  event: string;
  token: { id: string; name: string; owner: string; expiresAt: string | null; lastUsedAt: string | null } | null;
  detail: string;
  /** ISO 8601: when the event happened (the same on every attempt). */
  time: string;
}

/** `sha256=<hex>`: the signature header's value for a raw body. */
export function signBody(secret: string, raw: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
}

/** The webhook URL as the delivery log and the logs show it: no user, password or secret-looking query value. */
export function webhookTarget(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key|token|sig|auth/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return '(unparsable url)';
  }
}

export type AttemptResult = { ok: true } | { ok: false; retry: boolean; error: string };

export type FetchFn = (url: string, init: RequestInit) => Promise<Response>;

/** One POST of a prepared body; never throws. */
export async function postOnce(
  fetchFn: FetchFn,
  url: string,
  raw: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<AttemptResult> {
  try {
    const res = await fetchFn(url, { method: 'POST', headers, body: raw, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { ok: true };
    const retry = res.status === 408 || res.status === 429 || res.status >= 500;
    return { ok: false, retry, error: `HTTP ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError' || err.name === 'AbortError') return { ok: false, retry: true, error: `no answer within ${timeoutMs} ms` };
    const why = err.cause?.code ?? err.cause?.message ?? err.message;
    return { ok: false, retry: true, error: `not reachable: ${String(why)}` };
  }
}

/** The wait before attempt n+1 after attempt n failed (n from 1): base, 2·base, 4·base …, at most a minute. */
export function backoffMs(attempt: number, baseMs: number): number {
  return Math.min(60_000, baseMs * 2 ** (attempt - 1));
}
