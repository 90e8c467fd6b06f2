// Builds the admin UI into admin-ui/dist (served by the admin listener, src/admin/static.ts).
// No inline scripts or styles end up in index.html, so the strict CSP holds.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    // The polyfill is only for old browsers and would be an extra chunk of code we do not need.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
});
