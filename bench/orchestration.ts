import { GetCommandInvocationCommand, SSMClient } from '@aws-sdk/client-ssm';
import { RESTART_SUBTASKS } from '../functions/core/subtasks.ts';
import type { BenchContext } from './context.ts';
import type { Figure, PartResult } from './report.ts';
import { machineInfo, median, percentile, round, sum } from './stats.ts';

const RESTARTS = 10;
const WARM_UP = 3;
/** Hosts of the timed restarts (the cost and API parts use others or wait for theirs to end). */
const FIRST_HOST = 21;
const PER_SUBTASK_BUDGET_MS = 50;

interface SubtaskTiming {
  startTime: number;
  endTime: number;
  scriptStart: number;
  scriptEnd: number;
}

interface RestartTiming {
  /** From the HTTP answer to the task's endTime (SUCCESSFUL). */
  totalMs: number;
  subtasks: SubtaskTiming[];
}

type TaskData = { subtasks: { id: number; startTime?: string; endTime?: string }[] };
type LogData = { log?: string };

const time = (text: string | undefined) => {
  const value = Date.parse(text ?? '');
  if (Number.isNaN(value)) throw new Error(`Not a timestamp: ${text}`);
  return value;
};

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const ssm = new SSMClient({});
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${bench.system.apiUrl}${path}`, {
      headers: { authorization: `Bearer ${bench.token}` },
    });
    return ((await response.json()) as { data: T }).data;
  };

  const timings: RestartTiming[] = [];
  try {
    for (let i = 0; i < WARM_UP + RESTARTS; i++) {
      const hostId = FIRST_HOST + i;
      const { status, body, answeredAt } = await bench.restart(hostId);
      if (status !== 200 || !body.data) throw new Error(`Restart of host ${hostId} answered ${status}`);
      const taskId = body.data.id;
      await bench.waitForEnd([taskId], 60_000);
      const end = bench.ended.get(taskId)!;
      if (end.status !== 'SUCCESSFUL') throw new Error(`Task ${taskId} ended ${end.status}`);
      if (i < WARM_UP) continue;
      context.log(
        `orchestration: restart ${i - WARM_UP + 1} of ${RESTARTS} took ${end.endTime - answeredAt} ms`,
      );
      const task = await get<TaskData>(`/api/v2/tasks/instances/${taskId}`);
      const subtasks: SubtaskTiming[] = [];
      for (const subtask of task.subtasks) {
        // The log names the attempt's command; SSM's own invocation record has the script's run time.
        const log = await get<LogData>(`/api/v2/tasks/instances/${taskId}/subtasks/${subtask.id}/log`);
        const commandId = /\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b/.exec(
          log.log ?? '',
        )?.[1];
        if (!commandId) throw new Error(`No command id in the log of subtask ${subtask.id}`);
        const instanceId = bench.system.hosts[hostId - 1]!.instanceId;
        const invocation = await ssm.send(
          new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
        );
        subtasks.push({
          startTime: time(subtask.startTime),
          endTime: time(subtask.endTime),
          scriptStart: time(invocation.ExecutionStartDateTime),
          scriptEnd: time(invocation.ExecutionEndDateTime),
        });
      }
      timings.push({ totalMs: end.endTime - answeredAt, subtasks });
    }
  } finally {
    ssm.destroy();
  }

  const count = RESTART_SUBTASKS.length;
  const totals = timings.map((t) => t.totalMs);
  const scripts = timings.map((t) => sum(t.subtasks.map((s) => s.scriptEnd - s.scriptStart)));
  const perSubtask = timings.map((t, i) => (t.totalMs - scripts[i]!) / count);
  const pieces = (pick: (s: SubtaskTiming, next?: SubtaskTiming) => number | undefined) =>
    timings.flatMap((t) => t.subtasks.flatMap((s, i) => pick(s, t.subtasks[i + 1]) ?? []));
  const dispatch = pieces((s) => s.scriptStart - s.startTime);
  const completion = pieces((s) => s.endTime - s.scriptEnd);
  const handoff = pieces((s, next) => (next ? next.startTime - s.endTime : undefined));

  const figures: Figure[] = [
    { name: 'restart total, HTTP answer → SUCCESSFUL (median)', value: round(median(totals)), unit: 'ms' },
    { name: 'scripts own run time per restart (median)', value: round(median(scripts)), unit: 'ms' },
    {
      name: 'orchestration per subtask (median)',
      value: round(median(perSubtask)),
      unit: 'ms',
      budget: { max: PER_SUBTASK_BUDGET_MS },
    },
    { name: 'orchestration per subtask (worst of runs)', value: round(Math.max(...perSubtask)), unit: 'ms' },
  ];
  const row = (name: string, values: number[]) =>
    `| ${name} | ${round(median(values))} | ${round(percentile(values, 90))} | ${round(Math.max(...values))} |`;
  return {
    id: 'orchestration',
    title: 'Orchestration overhead of a restart',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
${RESTARTS} restarts, one after the other on distinct demo hosts in "fast" mode (the agent starts without
delay, so the five scripts do little), after ${WARM_UP} uncounted ones, with nothing else running. For each:
**total** = the task record's \`endTime\` (written when the task becomes SUCCESSFUL) − the moment the
HTTP answer arrived; **script time** = Σ over the five commands of SSM's ExecutionEndDateTime −
ExecutionStartDateTime (GetCommandInvocation on the local SSM, which stamps them around the script's
process: spawn to exit); **orchestration per subtask** = (total − script time) / ${count}. The command of
each subtask is found in its log (\`GET …/subtasks/{id}/log\`).

Where the orchestration time goes (per subtask, ms): **dispatch** = the command's start − the subtask's
\`startTime\` (run-subtask writes RUNNING and sends the command); **completion** = the subtask's \`endTime\`
− the command's end (SSM status event → EventBridge rule → command-callback: GetCommandInvocation, record
the outcome); **hand-off** = the next subtask's \`startTime\` − this one's \`endTime\` (SendTaskSuccess →
Step Functions → next state → run-subtask invoked).

**On AWS, completion is event-driven, with no fixed poll.** Each subtask state is a
\`lambda:invoke.waitForTaskToken\` Task: run-subtask stores the task token with the subtask and sends the
command, then returns — nothing runs or is billed while the script runs. When the command ends, SSM emits
its "EC2 Command Invocation Status-change Notification" event to the default bus; the stack's rule (the
product's documents, terminal statuses) invokes command-callback, which finds the subtask from the
command's Comment, records the outcome and output, and calls SendTaskSuccess (or SendTaskFailure) with the
stored token; Step Functions moves on at once. So a subtask ends as soon as its status event is
delivered (EventBridge's delivery latency, typically well under a second), not at the next tick of a poll:
a 5-second poll would add 2.5 s per subtask on average, 12.5 s per restart, and three billed state transitions per poll
(Wait, GetCommandInvocation, Choice). A lost event is covered by the state's TimeoutSeconds and the reconciler.
`,
    details: [
      `| per subtask (ms) | median | p90 | max |
| --- | --- | --- | --- |
${row('dispatch (RUNNING → script starts)', dispatch)}
${row(
  'script (SSM start → end)',
  timings.flatMap((t) => t.subtasks.map((s) => s.scriptEnd - s.scriptStart)),
)}
${row('completion (script ends → SUCCESSFUL recorded)', completion)}
${row('hand-off (SUCCESSFUL → next RUNNING)', handoff)}
${row('orchestration per subtask ((total − scripts) / 5)', perSubtask)}
${row('restart total (ms, not per subtask)', totals)}`,
    ],
  };
}
