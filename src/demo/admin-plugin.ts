// Demo plugin: a known admin password (unless SIDECAR_ADMIN_PASSWORD is set) and the admin UI login
// in the banner. Loopback-only demo: a fixed password is fine here, never in a real deployment.
import type { DemoPluginFactory } from './run.js';

export const DEMO_ADMIN_PASSWORD = 'demo-admin-password';

export const demoAdminPlugin: DemoPluginFactory = async () => {
  const password = process.env.SIDECAR_ADMIN_PASSWORD || DEMO_ADMIN_PASSWORD;
  return {
    name: 'admin',
    env: { SIDECAR_ADMIN_PASSWORD: password },
    describe: (urls) => [
      '',
      `  Admin UI               ${urls.admin}/   login: admin / ${password}`,
      '  # the admin API from a script: log in (session cookie + CSRF token), then read the last hour',
      `  curl -s -c /tmp/sidecar-admin.cookies -H 'Content-Type: application/json' -d '{"username":"admin","password":"${password}"}' ${urls.admin}/api/login`,
      `  curl -s -b /tmp/sidecar-admin.cookies ${urls.admin}/api/overview`,
    ],
  };
};
