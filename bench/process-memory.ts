import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { INSTANCE_PROCESS_MARKER } from '../local/lambda-runtime/instance-channel.ts';

/** Peak memory of local mode's processes while sampled. */
export interface MemoryPeak {
  samples: number;
  /** Largest sum of RSS over the processes, in bytes, and its split by kind at that moment. */
  rssBytes: number;
  rssByKind: Record<string, number>;
  /** Largest sum of PSS (shared pages divided among their users), sampled less often. */
  pssBytes: number;
  pssByKind: Record<string, number>;
  processesAtPeak: number;
}

export interface MemorySampler {
  stop(): Promise<MemoryPeak>;
}

/**
 * Runs in a worker thread, so that reading /proc never blocks local mode's event loop. Each sample
 * takes this process and its descendants (DynamoDB Local's Java, the SSM scripts) and every process
 * whose environment marks it as a demo agent under the hosts' folder (they are detached from us).
 */
const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { rootPid, agentMarker, instanceMarker, intervalMs, pssEvery } = workerData;
const pageBytes = 4096;
const agents = new Map();
const peak = { samples: 0, rssBytes: 0, rssByKind: {}, pssBytes: 0, pssByKind: {}, processesAtPeak: 0 };
const read = (path) => { try { return fs.readFileSync(path, 'latin1'); } catch { return undefined; } };
function processes() {
  const info = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = read('/proc/' + entry + '/stat');
    if (!stat) continue;
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    info.set(Number(entry), { ppid: Number(fields[1]), start: fields[19], name: stat.slice(stat.indexOf('(') + 1, close) });
  }
  const children = new Map();
  for (const [pid, { ppid }] of info) {
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(pid);
  }
  const kinds = new Map();
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop();
    if (kinds.has(pid) || !info.has(pid)) continue;
    kinds.set(pid, pid === rootPid ? 'node (local mode and benchmark)' : info.get(pid).name === 'java' ? 'DynamoDB Local (java)' : (read('/proc/' + pid + '/cmdline') || '').includes(instanceMarker) ? 'function instances (child processes)' : 'scripts and other children');
    for (const child of children.get(pid) || []) stack.push(child);
  }
  for (const [pid, { start }] of info) {
    if (kinds.has(pid)) continue;
    const key = pid + ':' + start;
    let agent = agents.get(key);
    if (agent === undefined) {
      const environ = read('/proc/' + pid + '/environ') || '';
      agent = environ.split('\\0').some((variable) => variable.startsWith(agentMarker));
      agents.set(key, agent);
    }
    if (agent) kinds.set(pid, 'demo agent processes');
  }
  return kinds;
}
function sample(withPss) {
  const kinds = processes();
  let rss = 0, pss = 0;
  const rssByKind = {}, pssByKind = {};
  for (const [pid, kind] of kinds) {
    const statm = read('/proc/' + pid + '/statm');
    if (!statm) continue;
    const bytes = Number(statm.split(' ')[1]) * pageBytes;
    rss += bytes;
    rssByKind[kind] = (rssByKind[kind] || 0) + bytes;
    if (withPss) {
      const rollup = read('/proc/' + pid + '/smaps_rollup') || '';
      const match = /^Pss:\\s+(\\d+) kB/m.exec(rollup);
      const value = match ? Number(match[1]) * 1024 : 0;
      pss += value;
      pssByKind[kind] = (pssByKind[kind] || 0) + value;
    }
  }
  peak.samples++;
  if (rss > peak.rssBytes) Object.assign(peak, { rssBytes: rss, rssByKind, processesAtPeak: kinds.size });
  if (withPss && pss > peak.pssBytes) Object.assign(peak, { pssBytes: pss, pssByKind });
}
let n = 0;
const timer = setInterval(() => sample(n++ % pssEvery === 0), intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  sample(true);
  parentPort.postMessage(peak);
});
sample(true);
`;

/** Samples every `intervalMs` (PSS every `pssEvery`-th sample: reading it walks page tables). */
export function sampleMemory(hostRoot: string, intervalMs = 250, pssEvery = 4): MemorySampler {
  const worker = new Worker(SAMPLER, {
    eval: true,
    workerData: {
      rootPid: process.pid,
      agentMarker: `OCP_DEMO_AGENT_HOME=${resolve(hostRoot)}/`,
      instanceMarker: INSTANCE_PROCESS_MARKER,
      intervalMs,
      pssEvery,
    },
  });
  return {
    stop: () =>
      new Promise<MemoryPeak>((done, fail) => {
        worker.once('message', (peak: MemoryPeak) => {
          void worker.terminate();
          done(peak);
        });
        worker.once('error', fail);
        worker.postMessage('stop');
      }),
  };
}

const CLOCK_TICKS_PER_SECOND = 100;

/** The function instances running now as child processes of this one, by pid. */
function instanceProcesses(): number[] {
  return readdirSync('/proc').flatMap((entry) => {
    if (!/^[0-9]+$/.test(entry)) return [];
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) return [];
      return readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(INSTANCE_PROCESS_MARKER)
        ? [Number(entry)]
        : [];
    } catch {
      return [];
    }
  });
}

/** The CPU seconds of each live instance process. */
function instancesCpu(): Map<number, number> {
  return new Map(
    instanceProcesses().flatMap((pid) => {
      try {
        return [[pid, cpuSeconds(pid).own] as const];
      } catch {
        return [];
      }
    }),
  );
}

/** utime + stime of /proc/<pid>/stat (the time of ended threads included), and of its reaped children. */
export function cpuSeconds(pid: number | 'self'): { own: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  // Fields 14-17 of stat (utime, stime, cutime, cstime), here from index 11 after pid and name.
  return {
    own: (fields[11]! + fields[12]!) / CLOCK_TICKS_PER_SECOND,
    children: (fields[13]! + fields[14]!) / CLOCK_TICKS_PER_SECOND,
  };
}

/** DynamoDB Local's Java process among this process's descendants. */
export function dynamoDbLocalPid(): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('DynamoDBLocal.jar')) continue;
      let pid = Number(entry);
      for (let depth = 0; depth < 5 && pid > 1; depth++) {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (pid === process.pid) return Number(entry);
      }
    } catch {
      // The process ended while it was read.
    }
  }
  return undefined;
}

/**
 * CPU seconds used by local mode's parts since the call: this process, the function instances that
 * run as child processes (an instance that ended meanwhile is among the reaped children), its reaped
 * children (the scripts), Java.
 */
export function cpuMeter(): () => Record<string, number> {
  const java = dynamoDbLocalPid();
  const before = {
    self: cpuSeconds('self'),
    java: java ? cpuSeconds(java).own : 0,
    instances: instancesCpu(),
  };
  return () => {
    const now = cpuSeconds('self');
    let instances = 0;
    for (const [pid, seconds] of instancesCpu()) instances += seconds - (before.instances.get(pid) ?? 0);
    return {
      'node (local mode and benchmark)': now.own - before.self.own,
      'function instances (child processes)': instances,
      'scripts (SSM commands, reaped children)': now.children - before.self.children,
      'DynamoDB Local (java)': java ? cpuSeconds(java).own - before.java : Number.NaN,
    };
  };
}
