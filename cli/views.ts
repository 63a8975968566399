import { BATCH_HOST_STATUSES, countHostStatuses } from '../functions/core/batch-host-status.ts';
import type { OcpBatchHost, OcpBatchTask } from '../functions/core/batch-task-view.ts';
import { statusSymbol } from '../functions/core/status-symbols.ts';
import type { OcpSubtask, OcpTask } from '../functions/core/task.ts';

/** A task as the API shows it: one host's restart, or a batch (which has `hosts`). */
export type TaskView = (OcpTask & { hosts?: undefined }) | (OcpBatchTask & { hostId?: undefined });

export const isBatch = (task: TaskView): task is OcpBatchTask & { hostId?: undefined } =>
  Array.isArray(task.hosts);

/** One change seen between two reads of a task, as plain lines and JSON lines report it. */
export type Transition =
  | { event: 'task'; taskId: number; status: string; operation: string; at: string }
  | {
      event: 'subtask';
      taskId: number;
      subtaskId: number;
      name: string;
      status: string;
      attempt: number;
      elapsedSeconds?: number;
      error?: string;
      at: string;
    }
  | {
      event: 'host';
      taskId: number;
      hostId: number;
      status: string;
      hostTaskId?: number;
      failedSubtask?: string;
      error?: string;
      reason?: string;
      done: number;
      total: number;
      at: string;
    };

const ENDED_HOST = new Set(['SUCCESSFUL', 'FAILED', 'NOT_STARTED', 'CANCELED']);
const ENDED_SUBTASK = new Set(['SUCCESSFUL', 'FAILED', 'ROLLBACK_SKIP']);
export const HOST_STATUSES = BATCH_HOST_STATUSES;

/** What changed from `before` (undefined: the first read) to `after`. */
export function transitions(before: TaskView | undefined, after: TaskView, now: Date): Transition[] {
  const at = now.toISOString();
  const changes = partTransitions(before, after, now, at);
  if (!before || before.status !== after.status || before.operation !== after.operation) {
    const change: Transition = {
      event: 'task',
      taskId: after.id,
      status: after.status,
      operation: after.operation,
      at,
    };
    // The task's first state opens the report; a later change of it follows its parts' changes.
    return before ? [...changes, change] : [change, ...changes];
  }
  return changes;
}

function partTransitions(before: TaskView | undefined, after: TaskView, now: Date, at: string): Transition[] {
  const changes: Transition[] = [];
  if (isBatch(after)) {
    const earlier = new Map((before && isBatch(before) ? before.hosts : []).map((h) => [h.hostId, h]));
    const done = after.hosts.filter((host) => ENDED_HOST.has(host.status)).length;
    for (const host of after.hosts) {
      const previous = earlier.get(host.hostId);
      if (previous?.status === host.status) continue;
      if (!previous && host.status === 'PENDING') continue;
      changes.push({
        event: 'host',
        taskId: after.id,
        hostId: host.hostId,
        status: host.status,
        ...(host.taskId === undefined ? {} : { hostTaskId: host.taskId }),
        ...(host.failedSubtask ? { failedSubtask: host.failedSubtask } : {}),
        ...(host.error ? { error: host.error } : {}),
        ...(host.reason ? { reason: host.reason } : {}),
        done,
        total: after.hosts.length,
        at,
      });
    }
    return changes;
  }
  const earlier = new Map((before?.subtasks ?? []).map((s) => [s.id, s]));
  for (const subtask of after.subtasks) {
    const previous = earlier.get(subtask.id);
    if (previous && previous.status === subtask.status && previous.runTime === subtask.runTime) continue;
    if (!previous && (subtask.status === 'PENDING' || subtask.status === 'READY')) continue;
    const elapsed = elapsedSeconds(subtask, now);
    changes.push({
      event: 'subtask',
      taskId: after.id,
      subtaskId: subtask.id,
      name: subtask.name,
      status: subtask.status,
      attempt: subtask.runTime,
      ...(ENDED_SUBTASK.has(subtask.status) && elapsed !== undefined ? { elapsedSeconds: elapsed } : {}),
      ...(subtask.error ? { error: subtask.error } : {}),
      at,
    });
  }
  return changes;
}

/** One plain line (no ANSI) for a transition, as a pipe or CI log shows it. */
export function plainLine(change: Transition): string {
  const time = change.at.slice(11, 19);
  switch (change.event) {
    case 'task':
      return `${time} task ${change.taskId} ${change.status} (operation ${change.operation})`;
    case 'subtask':
      return (
        [
          `${time} task ${change.taskId} subtask ${change.subtaskId} "${change.name}" ${change.status}`,
          `attempt ${change.attempt}`,
          ...(change.elapsedSeconds === undefined ? [] : [`${seconds(change.elapsedSeconds)}`]),
        ].join(' · ') + (change.status === 'FAILED' && change.error ? `: ${firstLine(change.error)}` : '')
      );
    case 'host':
      return [
        `${time} task ${change.taskId} host ${change.hostId} ${change.status}`,
        ...(change.hostTaskId === undefined ? [] : [`task ${change.hostTaskId}`]),
        ...(change.failedSubtask ? [`at "${change.failedSubtask}"`] : []),
        ...(change.error ? [firstLine(change.error)] : []),
        ...(change.reason ? [firstLine(change.reason)] : []),
        `${change.done}/${change.total} done`,
      ].join(' · ');
  }
}

/** The live view of a task (a TTY repaints it on every read): its subtasks, or its hosts' progress. */
export function liveView(
  task: TaskView,
  now: Date,
  output?: { subtask: OcpSubtask; tail: string[] },
): string {
  const lines = [header(task, now)];
  if (isBatch(task)) {
    lines.push(...batchProgress(task));
    return lines.join('\n');
  }
  const width = Math.max(...task.subtasks.map((s) => s.name.length));
  for (const subtask of task.subtasks) {
    const elapsed = elapsedSeconds(subtask, now);
    lines.push(
      [
        `  ${statusSymbol(subtask.status)} ${String(subtask.id).padStart(4)} ${subtask.name.padEnd(width)}`,
        subtask.status.padEnd(13),
        subtask.status === 'PENDING' || subtask.status === 'READY' ? '' : `attempt ${subtask.runTime}`,
        elapsed === undefined ? '' : seconds(elapsed).padStart(7),
      ]
        .join('  ')
        .trimEnd(),
    );
  }
  if (output) {
    lines.push(`  ── output of subtask ${output.subtask.id} "${output.subtask.name}" ──`);
    lines.push(...(output.tail.length ? output.tail.map((line) => `  │ ${line}`) : ['  │ (no output yet)']));
  }
  return lines.join('\n');
}

function header(task: TaskView, now: Date): string {
  const started = Date.parse(task.startTime);
  const ended = task.endTime ? Date.parse(task.endTime) : now.getTime();
  const scope = isBatch(task) ? `${task.hosts.length} hosts` : `host ${task.hostId}`;
  return `Task ${task.id} · ${task.name} · ${scope} · ${task.status} · ${task.operation} · ${seconds((ended - started) / 1000)}`;
}

const BAR_WIDTH = 30;

function batchProgress(task: OcpBatchTask): string[] {
  const counts = countHosts(task.hosts);
  const total = task.hosts.length;
  const done = total - counts.RUNNING - counts.PENDING;
  const filled = total === 0 ? BAR_WIDTH : Math.round((done / total) * BAR_WIDTH);
  const failing = task.hosts.filter((host) => host.status === 'FAILED');
  const running = task.hosts.filter((host) => host.status === 'RUNNING');
  const { maxConcurrency, maxErrors } = task.rollout.asked;
  return [
    `  rollout: maxConcurrency ${maxConcurrency} · maxErrors ${maxErrors} · health check ${task.rollout.healthCheckSeconds} s`,
    `  [${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}] ${done}/${total} hosts done`,
    `  ${HOST_STATUSES.map((status) => `${status} ${counts[status]}`).join(' · ')}`,
    ...(running.length
      ? [`  running: ${running.map((h) => `host ${h.hostId} (task ${h.taskId ?? '?'})`).join(', ')}`]
      : []),
    ...(failing.length ? ['  failing hosts:', ...failing.map((host) => `    ${hostProblem(host)}`)] : []),
  ];
}

export const countHosts = (hosts: readonly OcpBatchHost[]) => countHostStatuses(hosts);

export function hostProblem(host: OcpBatchHost): string {
  return [
    `host ${host.hostId} ${host.status}`,
    ...(host.taskId === undefined ? [] : [`task ${host.taskId}`]),
    ...(host.failedSubtask ? [`at "${host.failedSubtask}"`] : []),
    ...(host.error ? [firstLine(host.error)] : []),
    ...(host.reason ? [firstLine(host.reason)] : []),
  ].join(' · ');
}

export function elapsedSeconds(
  item: { startTime?: string; endTime?: string },
  now: Date,
): number | undefined {
  if (!item.startTime) return undefined;
  const end = item.endTime ? Date.parse(item.endTime) : now.getTime();
  return Math.max(0, (end - Date.parse(item.startTime)) / 1000);
}

export const seconds = (value: number) => `${value.toFixed(1)} s`;

export const firstLine = (text: string) => text.split('\n', 1)[0]!.trim();

/** The last `count` non-empty lines of a log. */
export function tailLines(log: string, count: number): string[] {
  const lines = log.split('\n');
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.slice(-count);
}

/** The sections of a subtask's log for one attempt (`=== attempt N · … ===` starts each). */
export function attemptSection(log: string, attempt: number): string | undefined {
  const sections = log.split(/^(?==== attempt \d+ · )/m);
  return sections.find((section) => section.startsWith(`=== attempt ${attempt} · `));
}

/** The subtask a live view shows the output of: the running one, else the last one that started. */
export function currentSubtask(task: OcpTask): OcpSubtask | undefined {
  const started = task.subtasks.filter((subtask) => subtask.startTime);
  return (
    task.subtasks.find((subtask) => subtask.status === 'RUNNING' || subtask.status === 'CANCELING') ??
    started[started.length - 1]
  );
}
