// The admin API client: same-origin fetch with the session cookie, the CSRF token on every write,
// and errors as ApiError {status, code, message, issues}.

export interface Issue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: Issue[] = [],
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function setCsrfToken(t: string | null): void {
  csrfToken = t;
}
export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const d = (data ?? {}) as { error?: string; message?: string; issues?: Issue[] };
    const err = new ApiError(res.status, d.error ?? 'http_error', d.message ?? `HTTP ${res.status}`, d.issues ?? []);
    if (res.status === 401 && err.code === 'admin_auth_required') onUnauthorized();
    throw err;
  }
  return data as T;
}

export const get = <T = unknown>(path: string) => api<T>('GET', path);

/** Query string from the non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

export interface ConfigMeta {
  config: Record<string, any>;
  version: number;
  source: 'file' | 'database' | 'defaults';
  file: string | null;
  secrets: string[];
  envOverrides: Array<{ path: string; variable: string }>;
  placeholders: string[];
  restartRequired: string[];
}

export interface PutConfigResult extends ConfigMeta {
  changes: Array<{ path: string; before: unknown; after: unknown }>;
}

export const MASK = '********';
