// Serves the built admin UI (admin-ui/dist, made by `npm run build`) on the admin listener.
// The page is one index.html plus hashed assets; navigation is hash-based, so no server routing.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';

/** src/admin or dist/admin -> <repo>/admin-ui/dist */
export const UI_DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'admin-ui', 'dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>jira-auth-sidecar admin</title></head>
<body><h1>Admin UI not built</h1><p>Run <code>npm run build</code> (it builds admin-ui/dist), then reload. The admin API under /api/ works without it.</p></body></html>`;

export function serveAdminUi(root = UI_DIST): Middleware {
  const rootWithSep = root + path.sep;
  return async function serveAdminUi(ctx, next) {
    if (ctx.path.startsWith('/api/') || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    let rel: string;
    try {
      rel = decodeURIComponent(ctx.path);
    } catch {
      return next();
    }
    if (rel.includes('\0')) return next();
    const wantsIndex = rel === '/' || rel === '/index.html';
    const file = path.resolve(root, `.${wantsIndex ? '/index.html' : rel}`);
    // Never outside the UI folder, whatever the spelling ("..", encoded slashes).
    if (!file.startsWith(rootWithSep)) return next();
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) return next();
      body = readFileSync(file);
    } catch {
      if (wantsIndex) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.set('Cache-Control', 'no-store');
        ctx.body = NOT_BUILT;
        return;
      }
      return next();
    }
    ctx.type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
    // Vite names assets by content hash: cache them for good, never the page that names them.
    ctx.set('Cache-Control', rel.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    ctx.body = body;
  };
}
