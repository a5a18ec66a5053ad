import { readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';

/**
 * CPU time of this process's main (JS) thread so far, ms: `utime + stime` of
 * `/proc/self/task/<pid>/stat` (fields 14 and 15, proc(5)) in clock ticks of 10 ms (`CLK_TCK` 100,
 * Linux' value on x86-64 and arm64). Undefined where `/proc` is missing. `process.cpuUsage()`
 * counts every thread (V8's GC helpers, libuv's pool); this one is the thread a Node pipeline is
 * bound by.
 */
export function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Sums the durations of garbage collections (`gc` performance entries: the main thread's pauses,
 * scavenges and mark-compact alike) from now until the returned function is called, ms.
 */
export function gcPauses(): () => number {
  let total = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) total += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => {
    // Entries of the last moments are delivered asynchronously: take what is buffered too.
    for (const entry of observer.takeRecords()) total += entry.duration;
    observer.disconnect();
    return total;
  };
}
