import type { BenchSystem } from './local-bench.ts';

/** What the runner hands each part: the shared local system (started on first use) and the command. */
export interface BenchContext {
  /** The command line that produced the figures, as BENCHMARKS.md quotes it. */
  command: string;
  localSystem(): Promise<BenchSystem>;
  log(line: string): void;
}
