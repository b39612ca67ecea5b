/**
 * Milliseconds on a monotonic clock, for durations. Not the global `performance`: its first use loads
 * perf_hooks and ten internal modules (~1 ms of a command's start); process.hrtime is already there.
 */
export function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
