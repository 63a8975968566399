import { readdirSync, readFileSync } from 'node:fs';
import { dynamoDbLocalPid } from './process-memory.ts';

/**
 * Where a part's CPU went, from Linux's scheduler statistics (/proc/…/schedstat): for each kind of
 * thread, the time it ran and the time it was ready to run but waited for a core. Elsewhere every
 * figure is undefined.
 */
export interface CpuSnapshot {
  /** The api instances' threads, by thread id. */
  api: Map<number, SchedTime>;
  mainThread: SchedTime;
  dynamoDbLocal: SchedTime;
  /** Busy and total jiffies of the whole machine (/proc/stat). */
  machine: { busy: number; total: number };
}

interface SchedTime {
  runMs: number;
  waitMs: number;
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

/** Every thread of a process (all of DynamoDB Local's JVM). */
function processTime(pid: number): SchedTime {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return ZERO;
  }
  return sum(tasks.flatMap((tid) => schedTime(`/proc/${pid}/task/${tid}/schedstat`) ?? []));
}

/** An instance run as a child process: all its threads. */
function childProcessTime(pid: number): SchedTime | undefined {
  try {
    readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  return processTime(pid);
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
        const time = schedTime(`/proc/self/task/${tid}/schedstat`) ?? childProcessTime(tid);
        return time ? [[tid, time] as const] : [];
      }),
    ),
    mainThread: main,
    dynamoDbLocal: pid === undefined ? ZERO : processTime(pid),
    machine: machineJiffies(),
  };
}

const minus = (after: SchedTime, before: SchedTime): SchedTime => ({
  runMs: after.runMs - before.runMs,
  waitMs: after.waitMs - before.waitMs,
});

/** What ran between two snapshots; an api instance started meanwhile counts from zero. */
export function cpuUse(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  return {
    api: sum([...after.api].map(([tid, time]) => minus(time, before.api.get(tid) ?? ZERO))),
    mainThread: minus(after.mainThread, before.mainThread),
    dynamoDbLocal: minus(after.dynamoDbLocal, before.dynamoDbLocal),
    machineBusy:
      (100 * (after.machine.busy - before.machine.busy)) /
      Math.max(1, after.machine.total - before.machine.total),
  };
}
