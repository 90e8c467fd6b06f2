// The notification delivery log and a test message (issue 19):
//   GET  /api/notifications?limit=&tokenId=   deliveries, newest first (limit default 100, at most 1000),
//                                             and which channels are ready
//   POST /api/notifications/test {channel: "email"|"webhook", to?}
//                                             one test message on that channel, now (one attempt), its
//                                             delivery row in the answer; `to` (e-mail only) instead of
//                                             the admin's own address (addressTemplate / Jira)
import type Router from '@koa/router';
import { SidecarError } from '../errors.js';
import type { Runtime } from '../http/runtime.js';
import { MAX_DELIVERIES_PAGE, type DeliveryChannel } from '../store/lifecycle-store.js';
import { channelReady } from '../notify/notifier.js';
import { installNotifier } from '../notify/service.js';
import { isSingleAddress } from '../notify/templates.js';
import { principal } from './auth.js';
import { fieldError, optString, readJson } from './http-util.js';
import { recordAdminAction } from './activity.js';

const CHANNELS: readonly DeliveryChannel[] = ['email', 'webhook'];

export function registerNotificationRoutes(router: Router, rt: Runtime): void {
  const notifier = () => rt.deps.services.notifier ?? installNotifier(rt);

  router.get('/api/notifications', async (ctx) => {
    const raw = typeof ctx.query.limit === 'string' && ctx.query.limit !== '' ? Number(ctx.query.limit) : 100;
    if (!Number.isInteger(raw) || raw < 1) throw fieldError('limit', `must be a whole number from 1 to ${MAX_DELIVERIES_PAGE}`);
    const tokenId = typeof ctx.query.tokenId === 'string' && ctx.query.tokenId ? ctx.query.tokenId : undefined;
    const n = rt.deps.getPolicy().config.notifications;
    ctx.body = {
      deliveries: await rt.stores.lifecycle.listDeliveries({ limit: Math.min(raw, MAX_DELIVERIES_PAGE), tokenId }),
      channels: { email: channelReady(n, 'email'), webhook: channelReady(n, 'webhook') },
    };
  });

  router.post('/api/notifications/test', async (ctx) => {
    const body = await readJson(ctx);
    const channel = body.channel as DeliveryChannel;
    if (!CHANNELS.includes(channel)) throw fieldError('channel', 'must be "email" or "webhook"');
    const to = optString(body, 'to', 254);
    if (to !== undefined && (channel !== 'email' || !isSingleAddress(to))) throw fieldError('to', channel === 'email' ? 'must be one e-mail address' : 'is for e-mail only');
    const n = rt.deps.getPolicy().config.notifications;
    if (!channelReady(n, channel)) {
      throw fieldError('channel', channel === 'email' ? 'e-mail is not enabled, or notifications.email.smtpUrl is not set' : 'the webhook is not enabled, or notifications.webhook.url is not set');
    }
    const actor = principal(ctx).username;
    await recordAdminAction(rt, { actor, action: 'notifications.test', target: channel, after: to ? { to } : undefined });
    const [delivery] = await notifier().dispatch(
      {
        event: 'test',
        phrase: 'is a test message',
        detail: `Sent by the admin "${actor}" to check the notification settings (notifications.${channel}). No token is involved.`,
        owner: actor,
        token: null,
      },
      { channels: [channel], maxAttempts: 1, to },
    );
    if (!delivery) throw new SidecarError('internal_error', { detail: 'the test message was not logged' });
    ctx.body = { delivery };
  });
}
