// Process CPU accounting for the benchmarks (Linux /proc): less noisy than req/s on a shared machine.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** A /proc stat line's command name and utime + stime in seconds. */
function parseStat(line: string): { name: string; cpu: number } {
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return { name: line.slice(line.indexOf('(') + 1, line.lastIndexOf(')')), cpu: (Number(fields[11]) + Number(fields[12])) / CLK_TCK };
}

/** utime + stime of a process in seconds (0 when it is gone or not on Linux). */
export function cpuSeconds(pid: number | undefined): number {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).cpu;
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
        const { name, cpu } = parseStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
        out.set(`${tid} ${name}`, cpu);
      } catch {
        // the thread ended
      }
    }
  } catch {
    // no /proc, or the process ended
  }
  return out;
}

/** Each thread's CPU seconds between two threadCpuSeconds readings, divided by `per` (a thread born meanwhile counts from 0). */
export function threadCpuDelta(before: Map<string, number> | undefined, after: Map<string, number> | undefined, per = 1): Map<string, number> {
  const d = new Map<string, number>();
  for (const [t, v] of after ?? []) d.set(t, (v - (before?.get(t) ?? 0)) / per);
  return d;
}
