// Chromium driven by playwright-core: Debian's (/usr/bin/chromium, or CHROMIUM_PATH) when present, else
// the Chromium build the @sparticuz/chromium package ships (a dev dependency, unpacked to /tmp on first
// use), so `npm ci && npm test` runs the browser tests on a machine where apt installed nothing.
// Headless, a fresh profile per run.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { ROOT, tempDir } from './sidecar.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let resolved: Promise<{ path: string; args: string[] }> | undefined;
/** The Chromium to run and its extra flags: the system's, else the packaged one. */
export function chromiumExecutable(): Promise<{ path: string; args: string[] }> {
  return (resolved ??= (async () => {
    // CHROMIUM_PACKAGED=1 uses the packaged build even where the system has one (to test that path).
    if (existsSync(CHROMIUM) && process.env.CHROMIUM_PACKAGED !== '1') return { path: CHROMIUM, args: [] };
    if (process.env.CHROMIUM_PATH) throw new Error(`Chromium not found at CHROMIUM_PATH=${CHROMIUM}`);
    const { default: packaged } = await import('@sparticuz/chromium');
    return { path: await packaged.executablePath(), args: packaged.args.filter((a: string) => !a.startsWith('--headless')) };
  })());
}
export const SCREENSHOTS = path.join(ROOT, 'test-output', 'admin-ui');

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The UI is built by `npm run build` (npm test's pretest); build it here when a test runs alone. */
export function ensureUiBuilt(): void {
  if (existsSync(path.join(ROOT, 'admin-ui', 'dist', 'index.html'))) return;
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'admin-ui', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
}

export async function launchBrowser(viewport = { width: 1280, height: 800 }): Promise<BrowserContext> {
  const exe = await chromiumExecutable();
  mkdirSync(SCREENSHOTS, { recursive: true });
  const profile = tempDir('chromium-profile-');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: exe.path,
    headless: true,
    args: [...new Set([...exe.args, ...ARGS])],
    viewport,
    acceptDownloads: true,
  });
  // Chromium may still be writing into its profile while it exits (ENOTEMPTY on rmdir): retry, and
  // never let a temp-dir cleanup fail the run.
  ctx.on('close', () => {
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      /* left in the temp dir */
    }
  });
  return ctx;
}

/** What a page said went wrong while a test file drove it: uncaught script errors and console errors. */
export interface PageTrouble {
  pageErrors: string[];
  consoleErrors: string[];
  /** Console errors that are Content-Security-Policy refusals. */
  cspViolations(): string[];
}

/** Starts collecting a page's script errors and console errors (assert on them at the end). */
export function watchPage(page: Page): PageTrouble {
  const t: PageTrouble = { pageErrors: [], consoleErrors: [], cspViolations: () => t.consoleErrors.filter((m) => /Content Security Policy|Refused to/i.test(m)) };
  page.on('pageerror', (e) => t.pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') t.consoleErrors.push(m.text());
  });
  return t;
}
