import { setTimeout as sleep } from 'node:timers/promises';
import { createLogUpdate } from 'log-update';
import type { ApiClient } from './api-client.ts';
import { CliFailure, EXIT } from './exit-codes.ts';
import {
  countHosts,
  currentSubtask,
  firstLine,
  HOST_STATUSES,
  hostProblem,
  isBatch,
  liveView,
  plainLine,
  seconds,
  type TaskView,
  tailLines,
  transitions,
} from './views.ts';

/** How a command reports: a repainted view (TTY), one plain line per change (pipes, CI), or JSON. */
export type OutputMode = 'live' | 'plain' | 'json';

const POLL_MS = 500;
const LIVE_TAIL_LINES = 8;
const FAILURE_TAIL_LINES = 20;

interface SubtaskLogAnswer {
  log: string;
  truncated: boolean;
  /** Present when the API serves live logs: pass it back to read only what came after. */
  cursor?: string;
}

/** Reads subtask logs, only the new output when the API gives a `cursor`, else the whole log again. */
export class SubtaskLogReader {
  private readonly read = new Map<string, { cursor?: string; text: string }>();

  constructor(private readonly client: ApiClient) {}

  async log(taskId: number, subtaskId: number): Promise<string> {
    const key = `${taskId}/${subtaskId}`;
    const known = this.read.get(key);
    const answer = await this.client.call<SubtaskLogAnswer>('getSubtaskLog', {
      path: { id: taskId, subtaskId },
      query: { cursor: known?.cursor },
    });
    const text = known?.cursor === undefined ? answer.log : known.text + answer.log;
    this.read.set(key, { ...(answer.cursor ? { cursor: answer.cursor } : {}), text });
    return text;
  }
}

/** How the CLI was started, so that the commands it suggests can be pasted as they are. */
export function commandPrefix(apiFlag?: string): string {
  const program = process.env.npm_command === 'exec' ? 'npx ocpctl' : 'ocpctl';
  return apiFlag ? `${program} --api ${apiFlag}` : program;
}

/**
 * Follows a task until it ends, reporting in the given mode; then prints the summary (and, on failure,
 * the failed subtask's log tail and the command to retry it). Returns the exit code.
 */
export async function followTask(
  client: ApiClient,
  taskId: number,
  mode: OutputMode,
  prefix: string,
  first?: TaskView,
): Promise<number> {
  const logs = new SubtaskLogReader(client);
  const live = mode === 'live' ? createLogUpdate(process.stdout, { showCursor: false }) : undefined;
  const stop = () => {
    live?.done();
    process.stderr.write(
      `\nStopped following; task ${taskId} goes on: ${prefix} task get ${taskId} --follow\n`,
    );
    process.exit(130);
  };
  process.once('SIGINT', stop);
  let previous: TaskView | undefined;
  let task = first ?? (await client.call<TaskView>('getTask', { path: { id: taskId } }));
  try {
    for (;;) {
      const now = new Date();
      for (const change of transitions(previous, task, now)) {
        if (mode === 'plain') process.stdout.write(`${plainLine(change)}\n`);
        if (mode === 'json') process.stdout.write(`${JSON.stringify(change)}\n`);
      }
      if (live) live(liveView(task, now, await liveOutput(task, logs)));
      if (task.status !== 'RUNNING') break;
      previous = task;
      await sleep(POLL_MS);
      task = await client.call<TaskView>('getTask', { path: { id: taskId } });
    }
  } finally {
    live?.done();
    process.off('SIGINT', stop);
  }
  return report(client, task, mode, prefix);
}

async function liveOutput(task: TaskView, logs: SubtaskLogReader) {
  if (isBatch(task)) return undefined;
  const subtask = currentSubtask(task);
  if (!subtask) return undefined;
  const log = await logs.log(task.id, subtask.id).catch(() => '');
  return { subtask, tail: tailLines(log, LIVE_TAIL_LINES) };
}

/** The end of a followed task: its summary, and what to do about a failure. */
async function report(client: ApiClient, task: TaskView, mode: OutputMode, prefix: string): Promise<number> {
  const exitCode = task.status === 'SUCCESSFUL' ? EXIT.ok : EXIT.taskFailed;
  const failure = exitCode === EXIT.ok ? undefined : await failureOf(client, task);
  const retryCommand = exitCode === EXIT.ok ? undefined : `${prefix} task retry ${task.id} --follow`;
  if (mode === 'json') {
    process.stdout.write(
      `${JSON.stringify({ event: 'end', status: task.status, exitCode, ...(failure ? { failure } : {}), ...(retryCommand ? { retryCommand } : {}), task })}\n`,
    );
    return exitCode;
  }
  const lines = [summary(task)];
  if (failure) {
    lines.push(
      `Failed at subtask ${failure.subtaskId} "${failure.name}" (attempt ${failure.attempt}) of task ${failure.taskId}${failure.hostId === undefined ? '' : ` (host ${failure.hostId})`}: ${failure.error ? firstLine(failure.error) : 'no error recorded'}`,
    );
    lines.push(
      `--- last ${FAILURE_TAIL_LINES} lines of its log (${prefix} task log ${task.id} ${failure.subtaskId}) ---`,
    );
    lines.push(...(failure.logTail.length ? failure.logTail : ['(no output recorded)']));
    lines.push('---');
  }
  if (retryCommand) {
    lines.push(`Retry it: ${retryCommand}`);
    if (failure && !isBatch(task)) {
      lines.push(`Or skip the failed subtask: ${prefix} task skip ${task.id} ${failure.subtaskId} --follow`);
      lines.push(`Or roll back (make sure the agent runs): ${prefix} task rollback ${task.id} --follow`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return exitCode;
}

export function summary(task: TaskView): string {
  const took = task.endTime
    ? ` in ${seconds((Date.parse(task.endTime) - Date.parse(task.startTime)) / 1000)}`
    : '';
  if (isBatch(task)) {
    const counts = countHosts(task.hosts);
    const problems = task.hosts.filter((host) => host.status !== 'SUCCESSFUL');
    return [
      `Task ${task.id} (batch of ${task.hosts.length} hosts) ended ${task.status}${took}, operation ${task.operation}: ${HOST_STATUSES.filter(
        (s) => counts[s] > 0,
      )
        .map((s) => `${counts[s]} ${s}`)
        .join(', ')}`,
      ...problems.map((host) => `  ${hostProblem(host)}`),
    ].join('\n');
  }
  const outcome =
    task.status === 'SUCCESSFUL'
      ? task.operation === 'ROLLBACK'
        ? `host ${task.hostId}'s agent runs again (rolled back, not restarted)`
        : `host ${task.hostId}'s agent restarted`
      : `host ${task.hostId}'s agent restart did not complete`;
  return `Task ${task.id} ended ${task.status}${took}, operation ${task.operation}: ${outcome}`;
}

interface Failure {
  taskId: number;
  hostId?: number;
  subtaskId: number;
  name: string;
  attempt: number;
  error?: string;
  logTail: string[];
}

/** The failed subtask (for a batch: of its first failed host) and the tail of its log. */
async function failureOf(client: ApiClient, task: TaskView): Promise<Failure | undefined> {
  let hostId: number | undefined;
  let subtask = task.subtasks.find((candidate) => candidate.status === 'FAILED');
  if (isBatch(task)) {
    const index = task.hosts.findIndex((host) => host.status === 'FAILED');
    hostId = task.hosts[index]?.hostId;
    subtask = task.subtasks.find(
      (candidate) => candidate.status === 'FAILED' && candidate.parallelIdx === index,
    );
  }
  if (!subtask) return undefined;
  const log = await client
    .call<SubtaskLogAnswer>('getSubtaskLog', { path: { id: task.id, subtaskId: subtask.id } })
    .then((answer) => answer.log)
    .catch((error: unknown) => (error instanceof CliFailure ? `(log unavailable: ${error.message})` : ''));
  return {
    taskId: task.id,
    ...(hostId === undefined ? {} : { hostId }),
    subtaskId: subtask.id,
    name: subtask.name,
    attempt: subtask.runTime,
    ...(subtask.error ? { error: subtask.error } : {}),
    logTail: tailLines(log, FAILURE_TAIL_LINES),
  };
}
