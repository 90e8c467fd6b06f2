// Process CPU accounting for the benchmarks (Linux /proc): less noisy than req/s on a shared machine.
// test/bench/run.ts keeps a copy of cpuSeconds for now; it can import this one.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in seconds (0 when it is gone or not on Linux). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds (user + system) of each thread of a process, by "tid name" (Linux /proc; empty
 * elsewhere): which threads the first second after a restart goes to (main, audit writer, V8's
 * compiler and GC helpers, libuv's pool).
 */
export function threadCpuSeconds(pid: number | undefined): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const name = f.slice(f.indexOf('(') + 1, f.lastIndexOf(')'));
        const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
        out.set(`${tid} ${name}`, (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
      } catch {
        // the thread ended
      }
    }
  } catch {
    // no /proc, or the process ended
  }
  return out;
}
