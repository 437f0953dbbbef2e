// Per-process CPU time and memory from /proc (Linux), for the gateway child and pgbouncer.
import { readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU seconds used so far by `pid` (all its threads). */
export function cpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/stat`);
}

/** The same for the process's main thread only (a Node process: its event loop). */
export function mainThreadCpuSeconds(pid: number): number {
  return statCpu(`/proc/${pid}/task/${pid}/stat`);
}

function statCpu(file: string): number {
  const stat = readFileSync(file, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** VmRSS and VmHWM (peak) in MB. */
export function memoryMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Resets the peak RSS (VmHWM) to the current RSS, so a later peak belongs to one phase. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}
