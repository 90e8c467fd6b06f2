// Tests that cannot run because this machine lacks a tool say so where the whole run can see it:
// each noted dependency is printed in the summary at the end of `npm test` (test/setup/summary.ts),
// with the one command that adds it. Never a silent skip. (.ci/run installs all of them.)
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './sidecar.js';

export const MISSING_FILE = path.join(ROOT, 'test-output', 'missing-dependencies.txt');

/** Notes a missing dependency (once per test file is enough; the summary deduplicates). */
export function noteMissing(what: string, tests: string, command: string): void {
  mkdirSync(path.dirname(MISSING_FILE), { recursive: true });
  appendFileSync(MISSING_FILE, `${JSON.stringify({ what, tests, command })}\n`);
  console.warn(`SKIPPED ${tests}: ${what} is missing (${command})`);
}
