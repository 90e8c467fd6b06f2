// vitest globalSetup: at the end of the run, the tests skipped because a tool is missing on this
// machine (test/helpers/missing.ts), each with the command that adds it. Cleared at the start.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { MISSING_FILE } from '../helpers/missing.js';

export function setup(): () => void {
  rmSync(MISSING_FILE, { force: true });
  return () => {
    if (!existsSync(MISSING_FILE)) return;
    const seen = new Map<string, { what: string; tests: string; command: string }>();
    for (const line of readFileSync(MISSING_FILE, 'utf8').split('\n').filter(Boolean)) {
      const e = JSON.parse(line) as { what: string; tests: string; command: string };
      seen.set(`${e.what}|${e.tests}`, e);
    }
    if (!seen.size) return;
    const lines = [...seen.values()].map((e) => `  - ${e.tests}: ${e.what} is missing; add it with: ${e.command}`);
    process.stdout.write(`\nSKIPPED because this machine lacks a tool (not failures; .ci/run installs them):\n${lines.join('\n')}\n\n`);
  };
}
