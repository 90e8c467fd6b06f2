// GET/POST/DELETE /api/tokens: the admin's view of every API token (services.apiTokens).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { describeToken, TokenInputError, type TokenAccess } from '../api-tokens/api-tokens.js';
import '../pipeline/verify/api-token/services.js';
import { principal } from './auth.js';
import { fieldError, readJson, reqString } from './http-util.js';
import { recordAdminAction } from './activity.js';

function storeOf(rt: Runtime) {
  const s = rt.deps.services.apiTokens;
  if (!s) throw new SidecarError('internal_error', { detail: 'token store not installed' });
  return s;
}

const strList = (body: Record<string, unknown>, key: string): string[] | undefined => {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw fieldError(key, 'must be a list of strings');
  return (v as string[]).map((s) => s.trim()).filter(Boolean);
};

export function registerTokenRoutes(router: Router, rt: Runtime): void {
  const view = (_ctx?: Context) => {
    const cfg = rt.deps.getPolicy().config.apiTokens;
    const now = rt.deps.clock.now();
    return (r: Parameters<typeof describeToken>[0]) => describeToken(r, now, cfg.maxLifetimeDays);
  };

  // ?q= matches id, owner or name (case-insensitive); ?owner= exact; ?status=active|expired|revoked
  router.get('/api/tokens', async (ctx) => {
    const q = typeof ctx.query.q === 'string' ? ctx.query.q.trim().toLowerCase() : '';
    const owner = typeof ctx.query.owner === 'string' && ctx.query.owner ? ctx.query.owner : undefined;
    const status = typeof ctx.query.status === 'string' && ctx.query.status ? ctx.query.status : undefined;
    let tokens = (await storeOf(rt).list(owner ? { owner } : {})).map(view(ctx));
    if (q) tokens = tokens.filter((t) => [t.id, t.owner, t.name].some((s) => s.toLowerCase().includes(q)));
    if (status) tokens = tokens.filter((t) => t.status === status);
    ctx.body = { tokens };
  });

  router.post('/api/tokens', async (ctx) => {
    const body = await readJson(ctx);
    const cfg = rt.deps.getPolicy().config.apiTokens;
    const access = (body.access ?? 'write') as TokenAccess;
    let days: number | undefined;
    if (body.days !== undefined && body.days !== null && body.days !== '') {
      days = Number(body.days);
      if (!Number.isFinite(days) || days <= 0) throw fieldError('days', 'must be a positive number of days');
    }
    let rateLimit: { points: number; durationSec: number } | undefined;
    if (body.rateLimit !== undefined && body.rateLimit !== null) {
      const r = body.rateLimit as { points?: unknown; durationSec?: unknown };
      rateLimit = { points: Number(r.points), durationSec: Number(r.durationSec) };
    }
    const actor = principal(ctx).username;
    const owner = reqString(body, 'owner', 255);
    // apiTokens.maxPerUser binds admins too: each live token is a standing credential to review.
    const active = await storeOf(rt).activeCount(owner, cfg.maxLifetimeDays);
    if (active >= cfg.maxPerUser) throw fieldError('owner', `${owner} already has ${active} active API tokens (apiTokens.maxPerUser is ${cfg.maxPerUser}); revoke some first`);
    let created;
    try {
      created = await storeOf(rt).create(
        {
          owner,
          name: reqString(body, 'name', 100),
          access,
          paths: strList(body, 'paths'),
          groups: strList(body, 'groups'),
          ipAllowlist: strList(body, 'ipAllowlist'),
          rateLimit,
          days,
          createdBy: `admin:${actor}`,
        },
        cfg,
      );
    } catch (e) {
      if (e instanceof TokenInputError) throw fieldError(e.field, e.reason);
      throw e;
    }
    const v = view(ctx)(created.record);
    await recordAdminAction(rt, { actor, action: 'token.create', target: created.id, after: { owner: v.owner, name: v.name, access: v.access, groups: v.groups, paths: v.paths, expires: v.expiresAt } });
    ctx.status = 201;
    // The secret is in this answer only; it is never stored or shown again.
    ctx.body = { ...v, token: created.token, ...(created.capped ? { notice: `expiry capped at apiTokens.maxLifetimeDays (${cfg.maxLifetimeDays})` } : {}) };
  });

  // Body {overlapHours?}: the old secret keeps working that long (default 0), then is refused.
  router.post('/api/tokens/:id/rotate', async (ctx) => {
    const body = await readJson(ctx);
    const hours = body.overlapHours === undefined || body.overlapHours === null ? 0 : Number(body.overlapHours);
    if (!Number.isFinite(hours) || hours < 0 || hours > 720) throw fieldError('overlapHours', 'must be a number of hours from 0 to 720');
    const actor = principal(ctx).username;
    const cfg = rt.deps.getPolicy().config.apiTokens;
    const rotated = await storeOf(rt).rotate(ctx.params.id!, { overlapMs: hours * 3_600_000, createdBy: `admin:${actor}` }, cfg);
    if (!rotated) throw new SidecarError('not_found', { message: 'No live token with this id (revoked and expired tokens cannot be rotated).' });
    const v = view(ctx)(rotated.record);
    await recordAdminAction(rt, { actor, action: 'token.rotate', target: rotated.old.id, after: { newId: rotated.id, owner: v.owner, name: v.name, oldExpires: new Date(rotated.old.expiresAt).toISOString() } });
    ctx.status = 201;
    ctx.body = { ...v, token: rotated.token, rotatedFrom: view(ctx)(rotated.old) };
  });

  // Body: any of {name, paths, ipAllowlist, rateLimit (null: none), expiresAt (ISO or ms)}. Extending
  // is bounded by apiTokens.maxLifetimeDays from now. One admin-activity row per edit: the fields that
  // changed, before and after (never a secret: the record holds none).
  router.patch('/api/tokens/:id', async (ctx) => {
    const body = await readJson(ctx);
    const cfg = rt.deps.getPolicy().config.apiTokens;
    const known = ['name', 'paths', 'ipAllowlist', 'rateLimit', 'expiresAt'];
    for (const k of Object.keys(body)) if (!known.includes(k)) throw fieldError(k, `cannot be changed (only ${known.join(', ')})`);
    let edited;
    try {
      edited = await storeOf(rt).update(ctx.params.id!, body, cfg);
    } catch (e) {
      if (e instanceof TokenInputError) throw fieldError(e.field, e.reason);
      throw e;
    }
    if (!edited) throw new SidecarError('not_found', { message: 'No live token with this id (revoked and expired tokens cannot be edited).' });
    const pick = (r: typeof edited.before) => ({ name: r.name, paths: r.paths, ipAllowlist: r.ipAllowlist, rateLimit: r.rateLimit ?? null, expiresAt: new Date(r.expiresAt).toISOString() });
    const b = pick(edited.before) as Record<string, unknown>;
    const a = pick(edited.after) as Record<string, unknown>;
    const changed = Object.keys(a).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
    if (changed.length) {
      await recordAdminAction(rt, {
        actor: principal(ctx).username,
        action: 'token.update',
        target: edited.after.id,
        before: Object.fromEntries(changed.map((k) => [k, b[k]])),
        after: Object.fromEntries(changed.map((k) => [k, a[k]])),
      });
    }
    ctx.body = view(ctx)(edited.after);
  });

  router.delete('/api/tokens/:id', async (ctx) => {
    const store = storeOf(rt);
    const rec = await store.get(ctx.params.id!);
    if (!rec) throw new SidecarError('not_found');
    const revoked = (await store.revoke(rec.id)) ?? rec;
    await recordAdminAction(rt, { actor: principal(ctx).username, action: 'token.revoke', target: rec.id, after: { owner: rec.owner, name: rec.name } });
    ctx.body = view(ctx)(revoked);
  });
}
