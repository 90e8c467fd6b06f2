// One bounded JSON GET for key material: timeout, status check, size cap, JSON object check.
import type { FetchLike } from './key-source.js';

const MAX_BYTES = 1024 * 1024;

/** Why an outbound call failed, for logs and error details: AbortSignal.timeout's TimeoutError says how long was waited. */
export const whyFetchFailed = (e: unknown, timeoutMs: number): string =>
  e instanceof Error && e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e as Error).message;

export async function fetchJson(fetchImpl: FetchLike, url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetchImpl(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${res.status} from ${url}`);
  }
  const text = await res.text();
  if (text.length > MAX_BYTES) throw new Error(`response from ${url} is larger than ${MAX_BYTES} bytes`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`response from ${url} is not JSON`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`response from ${url} is not a JSON object`);
  return body as Record<string, unknown>;
}
