import { readdirSync, readFileSync } from 'node:fs';
import { cpuSeconds, dynamoDbLocalPid } from './process-memory.ts';

/**
 * Where a part's CPU went, from Linux's scheduler statistics: for each kind of thread, the time it
 * ran and the time it was ready to run but waited for a core (/proc/…/schedstat). Elsewhere every
 * figure is undefined.
 */
export interface CpuSnapshot {
  /** The api instances, by the id of each one's thread (a child process's: its pid). */
  api: Map<number, SchedTime>;
  mainThread: SchedTime;
  dynamoDbLocal: ProcessTime;
  /** Busy and total jiffies of the whole machine (/proc/stat). */
  machine: { busy: number; total: number };
}

interface SchedTime {
  runMs: number;
  waitMs: number;
}

/** A whole process: the CPU of all its threads, ended ones too, and the wait of each live thread. */
interface ProcessTime {
  runMs: number;
  waitByThread: Map<number, number>;
}

/** CPU use between two snapshots. */
export interface CpuUse {
  api: SchedTime;
  mainThread: SchedTime;
  dynamoDbLocal: SchedTime;
  /** Share of the machine's cores busy, 0–100. */
  machineBusy: number;
}

const ZERO: SchedTime = { runMs: 0, waitMs: 0 };

function schedTime(path: string): SchedTime | undefined {
  try {
    const [run, wait] = readFileSync(path, 'utf8').split(' ').map(Number);
    return { runMs: (run ?? 0) / 1e6, waitMs: (wait ?? 0) / 1e6 };
  } catch {
    return undefined;
  }
}

const sum = (times: Iterable<SchedTime>): SchedTime => {
  let total = ZERO;
  for (const time of times) total = { runMs: total.runMs + time.runMs, waitMs: total.waitMs + time.waitMs };
  return total;
};

/** All the CPU of a process, its ended threads' too. */
function processCpuMs(pid: number): number | undefined {
  try {
    return cpuSeconds(pid).own * 1000;
  } catch {
    return undefined;
  }
}

function processTime(pid: number): ProcessTime | undefined {
  const runMs = processCpuMs(pid);
  if (runMs === undefined) return undefined;
  let threads: string[] = [];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    // Ended meanwhile: no thread left to wait.
  }
  return {
    runMs,
    waitByThread: new Map(
      threads.flatMap((tid) => {
        const time = schedTime(`/proc/${pid}/task/${tid}/schedstat`);
        return time ? [[Number(tid), time.waitMs] as const] : [];
      }),
    ),
  };
}

/**
 * An api instance: a worker thread of this process (its own thread's time), or a child process
 * (the CPU of all its threads, V8's GC helpers too, and the wait of its main thread, which runs the
 * handler: a helper waiting for a core does not hold a request up as the main thread does).
 */
function instanceTime(threadId: number): SchedTime | undefined {
  const thread = schedTime(`/proc/self/task/${threadId}/schedstat`);
  if (thread) return thread;
  const runMs = processCpuMs(threadId);
  const main = schedTime(`/proc/${threadId}/task/${threadId}/schedstat`);
  return runMs === undefined || !main ? undefined : { runMs, waitMs: main.waitMs };
}

function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return {
    busy: user + nice + system + irq + softirq + steal,
    total: user + nice + system + idle + iowait + irq + softirq + steal,
  };
}

/** Undefined where /proc has no scheduler statistics (not Linux). */
export function cpuSnapshot(apiThreadIds: readonly number[]): CpuSnapshot | undefined {
  const main = schedTime(`/proc/self/task/${process.pid}/schedstat`);
  if (!main) return undefined;
  const pid = dynamoDbLocalPid();
  return {
    api: new Map(
      apiThreadIds.flatMap((tid) => {
        const time = instanceTime(tid);
        return time ? [[tid, time] as const] : [];
      }),
    ),
    mainThread: main,
    dynamoDbLocal: (pid === undefined ? undefined : processTime(pid)) ?? {
      runMs: 0,
      waitByThread: new Map(),
    },
    machine: machineJiffies(),
  };
}

const minus = (after: SchedTime, before: SchedTime): SchedTime => ({
  runMs: after.runMs - before.runMs,
  waitMs: after.waitMs - before.waitMs,
});

/** A thread started meanwhile waits from zero; one that ended meanwhile takes its wait with it. */
function processUse(after: ProcessTime, before: ProcessTime): SchedTime {
  let waitMs = 0;
  for (const [tid, wait] of after.waitByThread) waitMs += wait - (before.waitByThread.get(tid) ?? 0);
  return { runMs: after.runMs - before.runMs, waitMs };
}

/** What ran between two snapshots; an api instance started meanwhile counts from zero. */
export function cpuUse(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  return {
    api: sum([...after.api].map(([tid, time]) => minus(time, before.api.get(tid) ?? ZERO))),
    mainThread: minus(after.mainThread, before.mainThread),
    dynamoDbLocal: processUse(after.dynamoDbLocal, before.dynamoDbLocal),
    machineBusy:
      (100 * (after.machine.busy - before.machine.busy)) /
      Math.max(1, after.machine.total - before.machine.total),
  };
}
