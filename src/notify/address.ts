// Where a token owner's e-mail goes: the emailAddress Jira has for the user when the sidecar can
// ask Jira (jiraGroupLookup.authorization set: GET {upstream}/rest/api/2/user?username=X), else
// notifications.email.addressTemplate with {user} replaced. Jira's answers are kept for ten
// minutes per owner; a failed lookup falls back to the template (and is not kept).
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import { isSingleAddress } from './templates.js';
import type { FetchFn } from './webhook.js';

const KEEP_MS = 10 * 60_000;

export interface ResolvedAddress {
  address: string;
  from: 'jira' | 'template';
}

export class OwnerAddresses {
  private readonly cache = new LRUCache<string, { address: string | null }>({ max: 10_000, ttl: KEEP_MS });

  constructor(
    private readonly fetchFn: FetchFn,
    private readonly logger?: Logger,
  ) {}

  /** The owner's address; throws when the result is not one plain address (a template that yields two, a strange username). */
  async of(owner: string, config: Pick<Config, 'upstream' | 'jiraGroupLookup' | 'notifications'>): Promise<ResolvedAddress> {
    const jira = await this.fromJira(owner, config);
    if (jira) return { address: jira, from: 'jira' };
    const address = config.notifications.email.addressTemplate.split('{user}').join(owner);
    if (!isSingleAddress(address)) throw new Error(`notifications.email.addressTemplate gives "${address}" for ${owner}: not one e-mail address`);
    return { address, from: 'template' };
  }

  private async fromJira(owner: string, config: Pick<Config, 'upstream' | 'jiraGroupLookup'>): Promise<string | null> {
    const authorization = config.jiraGroupLookup.authorization;
    if (!authorization) return null;
    const key = `${config.upstream.url}\u0000${owner}`;
    const hit = this.cache.get(key);
    if (hit) return hit.address;
    const url = `${config.upstream.url.replace(/\/+$/, '')}/rest/api/2/user?username=${encodeURIComponent(owner)}`;
    try {
      const res = await this.fetchFn(url, { headers: { authorization, accept: 'application/json' }, signal: AbortSignal.timeout(config.jiraGroupLookup.timeoutMs) });
      if (res.status === 404) {
        await res.body?.cancel().catch(() => undefined);
        this.cache.set(key, { address: null });
        return null;
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`HTTP ${res.status}`);
      }
      const body = (await res.json()) as { emailAddress?: unknown };
      const address = typeof body?.emailAddress === 'string' && isSingleAddress(body.emailAddress) ? body.emailAddress : null;
      this.cache.set(key, { address });
      return address;
    } catch (e) {
      this.logger?.warn({ owner, err: e }, "token owner's e-mail address not looked up in Jira; using notifications.email.addressTemplate");
      return null;
    }
  }
}
