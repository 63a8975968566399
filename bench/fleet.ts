import { dynamodb } from '../functions/aws/dynamodb.ts';
import { batchExecutionName } from '../functions/core/batch-execution.ts';
import { RESTART_SUBTASKS } from '../functions/core/subtasks.ts';
import { executionArnFor } from '../functions/use-cases/start-restart-task.ts';
import { setDemoMode } from '../local/demo-hosts.ts';
import type { BenchContext } from './context.ts';
import { BENCH_HOSTS, type BenchSystem } from './local-bench.ts';
import { cpuMeter, sampleMemory } from './process-memory.ts';
import type { Figure, PartResult } from './report.ts';
import { countCalls, type SdkCount } from './sdk-counter.ts';
import { machineInfo, median, round, sum } from './stats.ts';

const MAX_CONCURRENCY = 50;
const BROKEN_HOSTS = 5;
const MAX_ERRORS = 2;
const DRY_RUN_HOSTS = 1_000;
const DRY_RUNS = 5;
const SINGLE_RUNS = 3;
const BATCH_DEADLINE_MS = 600_000;
const PEAK_PSS_BUDGET_GB = 1.5;
const STOP = RESTART_SUBTASKS[2]!.name;
const GB = 2 ** 30;

interface BatchView {
  id: number;
  status: string;
  subtasks: { name: string; parallelIdx: number; startTime?: string; endTime?: string }[];
  hosts: { hostId: number; status: string; taskId?: number; reason?: string }[];
}

type Item = Record<string, unknown> & { pk: string; sk: string };

async function api(bench: BenchSystem, method: string, path: string, body?: unknown) {
  const started = performance.now();
  const response = await fetch(`${bench.system.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bench.token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const envelope = (await response.json()) as { data: unknown; error?: { message: string } };
  if (response.status !== 200)
    throw new Error(`${method} ${path}: ${response.status} ${envelope.error?.message}`);
  return { data: envelope.data, ms: performance.now() - started };
}

/**
 * Starts a batch and waits for its execution to end (local Step Functions, in memory: polling the
 * batch's view would load the system it measures), then reads its view: the view and the wall time.
 */
async function runBatch(bench: BenchSystem, body: unknown): Promise<{ batch: BatchView; wallMs: number }> {
  const { system } = bench;
  const sentAt = Date.now();
  const { data } = await api(bench, 'POST', '/compute/hosts/batchRestartAgents', body);
  const id = (data as BatchView).id;
  const executionArn = executionArnFor(system.batchStateMachineArn, batchExecutionName(id, 0));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      system.stepFunctions.stateMachines.whenClosed(executionArn),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Batch ${id} still RUNNING after ${BATCH_DEADLINE_MS} ms`)),
          BATCH_DEADLINE_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  const wallMs = Date.now() - sentAt;
  const { data: view } = await api(bench, 'GET', `/api/v2/tasks/instances/${id}`);
  return { batch: view as BatchView, wallMs };
}

interface MeasuredBatch {
  batch: BatchView;
  wallMs: number;
  cpu: Record<string, number>;
  cpuTotal: number;
  peak: Awaited<ReturnType<ReturnType<typeof sampleMemory>['stop']>>;
  calls: SdkCount;
}

/** runBatch with the CPU, memory and DynamoDB calls of local mode while it runs. */
async function measuredBatch(bench: BenchSystem, body: unknown): Promise<MeasuredBatch> {
  const sampler = sampleMemory(bench.system.hostRoot);
  const cpu = cpuMeter();
  const counter = countCalls(dynamodb, 'fleet');
  let run: { batch: BatchView; wallMs: number };
  try {
    run = await runBatch(bench, body);
  } finally {
    counter.stop();
  }
  const used = cpu();
  const peak = await sampler.stop();
  await bench.system.drainStream();
  await bench.system.eventBridge.idle();
  return {
    ...run,
    cpu: used,
    cpuTotal: sum(Object.values(used).filter(Number.isFinite)),
    peak,
    calls: counter.count,
  };
}

/** The most hosts inside "Stop all OCP agent processes" at one instant, from the subtasks' recorded times. */
function mostInStop(batch: BatchView): number {
  const edges = batch.subtasks
    .filter((subtask) => subtask.name === STOP && subtask.startTime && subtask.endTime)
    .flatMap((subtask) => [
      { at: Date.parse(subtask.startTime!), delta: 1 },
      { at: Date.parse(subtask.endTime!), delta: -1 },
    ])
    .sort((a, b) => a.at - b.at || a.delta - b.delta);
  let inside = 0;
  let most = 0;
  for (const edge of edges) {
    inside += edge.delta;
    most = Math.max(most, inside);
  }
  return most;
}

/** The batch's host tasks as DynamoDB Local holds them: lost, duplicated and left-over records. */
async function checkRecords(bench: BenchSystem, batch: BatchView, since: number) {
  const items = (await bench.scanTaskTable()) as Item[];
  const ids = new Set(batch.hosts.flatMap((host) => host.taskId ?? []));
  const tasks = items.filter((item) => item.sk === 'TASK' && ids.has(Number(item.id)));
  const tasksSince = items.filter(
    (item) => item.sk === 'TASK' && item.hostId !== undefined && Date.parse(String(item.startTime)) >= since,
  );
  const duplicateTasks = tasksSince.length - new Set(tasksSince.map((task) => Number(task.hostId))).size;
  const logs = items.filter(
    (item) => item.sk.startsWith('LOG#') && ids.has(Number(item.pk.replace('TASK#', ''))),
  );
  const logKeys = new Set(logs.map((log) => `${log.pk}|${log.sk}`));
  const expectedLogs = ids.size * RESTART_SUBTASKS.length;
  const locks = items.filter((item) => item.pk.startsWith('HOST#') && item.sk === 'LOCK');
  return {
    successful: tasks.filter((task) => task.status === 'SUCCESSFUL').length,
    logs: logKeys.size,
    expectedLogs,
    lostOrDuplicated:
      BENCH_HOSTS -
      ids.size +
      (ids.size - tasks.length) +
      duplicateTasks +
      (expectedLogs - logs.length) +
      (logs.length - logKeys.size),
    locks: locks.length,
    summary: `${tasks.length} task items for ${ids.size} hosts started, ${duplicateTasks} duplicate tasks, ${logs.length} subtask log items (${logKeys.size} distinct keys, ${expectedLogs} expected), ${locks.length} host locks`,
  };
}

function cpuTable(run: MeasuredBatch, cores: number): string {
  return `| CPU during the run | seconds |
| --- | --- |
${Object.entries(run.cpu)
  .map(([part, seconds]) => `| ${part} | ${round(seconds, 1)} |`)
  .join('\n')}
| **total** | **${round(run.cpuTotal, 1)}** — ${round(run.cpuTotal / cores, 1)} s of wall time on ${cores} cores at best |`;
}

function callTable(calls: SdkCount): string {
  const rows = [...calls.calls].sort((a, b) => b[1] - a[1]);
  return `| DynamoDB call | calls | per host | mean time (ms, queueing included) |
| --- | ---: | ---: | ---: |
${rows.map(([operation, count]) => `| ${operation.replace(/Command$/, '')} | ${count} | ${round(count / BENCH_HOSTS, 1)} | ${round((calls.ms.get(operation) ?? 0) / count)} |`).join('\n')}
| **all** | **${sum(rows.map(([, count]) => count))}** | **${round(sum(rows.map(([, count]) => count)) / BENCH_HOSTS, 1)}** | |`;
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const { system } = bench;
  const allHosts = Array.from({ length: BENCH_HOSTS }, (_, i) => i + 1);

  // One host's restart on its own, through a batch of one: the wave time the ideal scales from.
  const singles: number[] = [];
  for (let i = 0; i < SINGLE_RUNS; i++)
    singles.push((await runBatch(bench, { hostIds: [BENCH_HOSTS - i] })).wallMs);
  const single = median(singles);

  context.log(`fleet: ${BENCH_HOSTS} hosts, maxConcurrency ${MAX_CONCURRENCY}`);
  const rolloutSince = Date.now();
  const rollout = await measuredBatch(bench, {
    hostIds: allHosts,
    rollout: { maxConcurrency: MAX_CONCURRENCY },
  });
  const records = await checkRecords(bench, rollout.batch, rolloutSince);
  const waves = Math.ceil(BENCH_HOSTS / MAX_CONCURRENCY);
  const succeeded = rollout.batch.hosts.filter((host) => host.status === 'SUCCESSFUL').length;
  const floor = (run: MeasuredBatch) => run.cpuTotal / machine.cores;

  context.log(`fleet: ${BENCH_HOSTS} hosts at once (maxConcurrency ${BENCH_HOSTS})`);
  const atOnce = await measuredBatch(bench, { hostIds: allHosts, rollout: { maxConcurrency: BENCH_HOSTS } });
  const atOnceSucceeded = atOnce.batch.hosts.filter((host) => host.status === 'SUCCESSFUL').length;

  context.log(`fleet: ${BROKEN_HOSTS} broken hosts, maxErrors ${MAX_ERRORS}`);
  const broken = allHosts.filter((hostId) => hostId % 40 === 1).slice(0, BROKEN_HOSTS);
  for (const hostId of broken) setDemoMode(system.hosts[hostId - 1]!, 'broken');
  let threshold: { batch: BatchView; wallMs: number };
  try {
    threshold = await runBatch(bench, {
      hostIds: allHosts,
      rollout: { maxConcurrency: MAX_CONCURRENCY, maxErrors: MAX_ERRORS },
    });
  } finally {
    for (const hostId of broken) setDemoMode(system.hosts[hostId - 1]!, 'fast');
  }
  // When the threshold was crossed: the end of the failure that made failures exceed maxErrors.
  const hostTasks = await Promise.all(
    threshold.batch.hosts
      .filter((host) => host.taskId !== undefined)
      .map(async (host) => {
        const { data } = await api(bench, 'GET', `/api/v2/tasks/instances/${host.taskId}`);
        return data as { startTime: string; endTime?: string; status: string };
      }),
  );
  const failureEnds = hostTasks
    .filter((task) => task.status === 'FAILED' && task.endTime)
    .map((task) => Date.parse(task.endTime!))
    .sort((a, b) => a - b);
  const crossedAt = failureEnds[MAX_ERRORS] ?? Number.POSITIVE_INFINITY;
  const startedAfter = hostTasks.filter((task) => Date.parse(task.startTime) > crossedAt).length;
  const notStarted = threshold.batch.hosts.filter((host) => host.status === 'NOT_STARTED').length;

  context.log(`fleet: dry runs of ${DRY_RUN_HOSTS} hosts`);
  const dryRunIds = Array.from({ length: DRY_RUN_HOSTS }, (_, i) => i + 1);
  const dryRunMs: number[] = [];
  for (let i = 0; i < DRY_RUNS; i++) {
    dryRunMs.push(
      (await api(bench, 'POST', '/compute/hosts/batchRestartAgents', { hostIds: dryRunIds, dryRun: true }))
        .ms,
    );
  }

  const ideal = waves * single;
  const scriptsCpu = rollout.cpu['scripts (SSM commands, reaped children)'] ?? 0;
  // Local mode's Node: its own process and the function instances that run as child processes.
  const nodeCpu =
    (rollout.cpu['node (local mode and benchmark)'] ?? 0) +
    (rollout.cpu['function instances (child processes)'] ?? 0);
  const javaCpu = rollout.cpu['DynamoDB Local (java)'] ?? 0;
  const callsPerHost = sum([...rollout.calls.calls.values()]) / BENCH_HOSTS;
  const figures: Figure[] = [
    {
      name: `${BENCH_HOSTS} hosts at maxConcurrency ${MAX_CONCURRENCY}: wall time`,
      value: round(rollout.wallMs / 1000, 1),
      unit: 's',
    },
    {
      name: `one host through a batch (median of ${SINGLE_RUNS})`,
      value: round(single / 1000, 2),
      unit: 's',
    },
    {
      name: `wall time ÷ ideal (${waves} waves × one host)`,
      value: round(rollout.wallMs / ideal, 2),
      unit: '×',
    },
    {
      name: `CPU-seconds used during the rollout (${machine.cores} cores)`,
      value: round(rollout.cpuTotal, 1),
      unit: 's',
    },
    {
      name: 'wall time ÷ CPU floor (CPU-seconds ÷ cores)',
      value: round(rollout.wallMs / 1000 / floor(rollout), 2),
      unit: '×',
    },
    {
      name: `hosts SUCCESSFUL of ${BENCH_HOSTS}`,
      value: succeeded,
      unit: '',
      budget: { max: BENCH_HOSTS, text: `= ${BENCH_HOSTS}` },
    },
    {
      name: `most hosts inside "${STOP}" at once`,
      value: mostInStop(rollout.batch),
      unit: '',
      budget: { max: MAX_CONCURRENCY },
    },
    { name: 'subtask logs recorded', value: records.logs, unit: `of ${records.expectedLogs}` },
    { name: 'lost or duplicated records', value: records.lostOrDuplicated, unit: '', budget: { max: 0 } },
    { name: 'host locks held after the rollout', value: records.locks, unit: '', budget: { max: 0 } },
    // Counted only where the handlers run in this process (functionRuntime "in-process").
    ...(callsPerHost > 0
      ? [{ name: 'DynamoDB calls per host', value: round(callsPerHost, 1), unit: '' }]
      : []),
    {
      name: 'peak PSS of local mode during the rollout (shared pages counted once)',
      value: round(rollout.peak.pssBytes / GB, 2),
      unit: 'GB',
      budget: { max: PEAK_PSS_BUDGET_GB },
    },
    {
      name: 'peak RSS, sum over local mode processes',
      value: round(rollout.peak.rssBytes / GB, 2),
      unit: 'GB',
    },
    {
      name: `${BENCH_HOSTS} hosts at once (maxConcurrency ${BENCH_HOSTS}): wall time`,
      value: round(atOnce.wallMs / 1000, 1),
      unit: 's',
    },
    {
      name: `${BENCH_HOSTS} hosts at once: wall time ÷ CPU floor`,
      value: round(atOnce.wallMs / 1000 / floor(atOnce), 2),
      unit: '×',
    },
    {
      name: `${BENCH_HOSTS} hosts at once: hosts SUCCESSFUL`,
      value: atOnceSucceeded,
      unit: `of ${BENCH_HOSTS}`,
      budget: { max: BENCH_HOSTS, text: `= ${BENCH_HOSTS}` },
    },
    {
      name: `${BROKEN_HOSTS} broken hosts, maxErrors ${MAX_ERRORS}: hosts started after the threshold was crossed`,
      value: startedAfter,
      unit: '',
      budget: { max: MAX_CONCURRENCY - 1 },
    },
    { name: 'hosts not started (threshold)', value: notStarted, unit: `of ${BENCH_HOSTS}` },
    {
      name: `dry run of ${DRY_RUN_HOSTS} hosts: answer time p50`,
      value: round(median(dryRunMs)),
      unit: 'ms',
    },
  ];
  return {
    id: 'fleet',
    title: 'Fleet rollout (batchRestartAgents)',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
Local mode with ${BENCH_HOSTS} demo hosts in fast mode, over its HTTP API. **Wall time**: POST
\`/compute/hosts/batchRestartAgents\` of all ${BENCH_HOSTS} hosts with \`maxConcurrency\` ${MAX_CONCURRENCY}, until the
batch's execution ends (awaited in local Step Functions' memory, so that the benchmark adds no load; its
last state writes the batch's end), then one GET of the batch. **Ideal**: ${waves} waves × the time of one
host through a batch of one (median of ${SINGLE_RUNS}, on an idle system), i.e. what a rollout would take if
each wave cost no more than one host alone. **CPU floor**: the CPU-seconds local mode used during the
rollout (this process, its reaped children — the SSM scripts — and DynamoDB Local's Java) ÷ the cores:
no orchestration can end sooner on this machine. **Most hosts in "${STOP}"**: a sweep over the recorded start
and end times of that subtask in every host's task. **Records**: after the rollout, a consistent scan of
the task table: every host's task SUCCESSFUL, one task per host, ${RESTART_SUBTASKS.length} subtask logs each, no host
lock left. **DynamoDB calls**: counted by an SDK middleware on the handlers' client during the rollout,
where the handlers run in the benchmark's process (not with local mode's function instances, which keep
their clients to themselves: then see \`npm run bench -- cost\` for a restart's calls).
**At once**: the same ${BENCH_HOSTS} hosts with \`maxConcurrency\` ${BENCH_HOSTS}. **Threshold**: the same hosts with
${BROKEN_HOSTS} of them broken (hosts ${broken.join(', ')}, demo mode "broken": their restart fails) and \`maxErrors\`
${MAX_ERRORS}; the threshold is crossed when the ${MAX_ERRORS + 1}rd failed host's task ends, and a host counts as started after
it when its task started later. **Dry run**: ${DRY_RUN_HOSTS} host ids (the ${BENCH_HOSTS} demo hosts and
${DRY_RUN_HOSTS - BENCH_HOSTS} unknown ones), ${DRY_RUNS} calls, p50 of the client's time. **Memory**: local mode's processes
sampled every 250 ms during the rollout (RSS from /proc/*/statm; PSS from /proc/*/smaps_rollup, which
counts the pages the ${BENCH_HOSTS * 4} demo agents' bash processes share once).
`,
    details: [
      `**What dominates the wall time: CPU, on ${machine.cores} cores.** The rollout used ${round(rollout.cpuTotal, 1)} CPU-seconds, so on ${machine.cores} cores it could not end before ${round(floor(rollout), 1)} s; it took ${round(rollout.wallMs / 1000, 1)} s (${round(rollout.wallMs / 1000 / floor(rollout), 2)}× that floor). The host scripts took ${round(scriptsCpu, 1)} CPU-seconds (${round((1000 * scriptsCpu) / (BENCH_HOSTS * RESTART_SUBTASKS.length))} ms each of the ${BENCH_HOSTS * RESTART_SUBTASKS.length}; on AWS they run on the hosts), Node ${round(nodeCpu, 1)} (local mode's handlers and endpoints: ${round((1000 * nodeCpu) / BENCH_HOSTS)} ms per host, most of it the AWS SDK's serialization and signing of ${callsPerHost > 0 ? `${round(callsPerHost, 1)} ` : ''}DynamoDB calls per host and the local services answering them), DynamoDB Local ${round(javaCpu, 1)}. The ideal of ${waves} waves × ${round(single / 1000, 2)} s assumes each wave costs what one host costs alone; here ${MAX_CONCURRENCY} hosts share ${machine.cores} cores, so ${round(rollout.wallMs / ideal, 1)}× is the machine's, not the rollout's: the Map kept up to ${mostInStop(rollout.batch)} hosts in "${STOP}" at once against ${MAX_CONCURRENCY} allowed. Of the calls per host, the batch itself adds two Queries of the batch's items (admission and outcome) and three item writes; the rest are the host's restart, as a single restart makes them (\`npm run bench -- cost\`). Changed in the benchmark: it no longer reads the batch's full view every 250 ms while it waits (the batch, its ${BENCH_HOSTS} hosts and their ${BENCH_HOSTS} tasks, about ${round((4 * rollout.wallMs) / 1000)} reads of 400 items in this run), which loaded the system it measured.`,
      cpuTable(rollout, machine.cores),
      ...(callsPerHost > 0 ? [callTable(rollout.calls)] : []),
      `Records after the rollout: ${records.summary}.`,
      `At once: ${round(atOnce.wallMs / 1000, 1)} s, ${round(atOnce.cpuTotal, 1)} CPU-seconds (floor ${round(floor(atOnce), 1)} s), ${atOnceSucceeded} of ${BENCH_HOSTS} SUCCESSFUL, peak PSS ${round(atOnce.peak.pssBytes / GB, 2)} GB.`,
      `Threshold run: batch ${threshold.batch.status}, ${threshold.batch.hosts.filter((host) => host.status === 'FAILED').length} hosts FAILED, ${notStarted} NOT_STARTED, ${startedAfter} started after the threshold was crossed; wall ${round(threshold.wallMs / 1000, 1)} s.`,
    ],
  };
}
