// A tiny admin API client for tests: logs in, keeps the session cookie and the CSRF token.
export const ADMIN_PASSWORD = 'correct-horse-battery-staple';

export interface AdminResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export class AdminClient {
  cookie: string | undefined;
  csrf: string | undefined;
  constructor(readonly base: string) {}

  async login(username = 'admin', password = ADMIN_PASSWORD): Promise<AdminResponse> {
    const r = await this.call('POST', '/api/login', { username, password }, { csrf: false });
    if (r.status === 200) {
      const set = r.headers.get('set-cookie') ?? '';
      this.cookie = set.split(';')[0];
      this.csrf = r.body.csrfToken;
    }
    return r;
  }

  /** opts.csrf false: omit X-CSRF-Token; opts.auth: an Authorization header instead of the cookie. */
  async call<T = any>(method: string, path: string, body?: unknown, opts: { csrf?: boolean; auth?: string; headers?: Record<string, string> } = {}): Promise<AdminResponse<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (opts.auth) headers.authorization = opts.auth;
    else if (this.cookie) headers.cookie = this.cookie;
    if (opts.csrf !== false && this.csrf && !opts.auth) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }

  /** GET the config, let `edit` change it, PUT it back. */
  async editConfig(edit: (c: any) => void): Promise<AdminResponse> {
    const cur = await this.get('/api/config');
    const c = cur.body.config;
    edit(c);
    return this.call('PUT', '/api/config', c);
  }
}
