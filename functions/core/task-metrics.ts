import { type MetricOutcome, type MetricPoint, subtaskDimension } from './metric-names.ts';
import { subtaskAt } from './subtasks.ts';
import type { SubtaskStatus, TaskRecord } from './task.ts';

const RUNNING_SUBTASK: readonly SubtaskStatus[] = ['RUNNING', 'CANCELING'];

/**
 * The metric points one change of a task record stands for: a task created (started), a task that
 * ended (its outcome), and each subtask attempt that ended while it ran (its duration and outcome).
 * A subtask skipped by an operator or never run yields nothing.
 */
export function taskChangeMetrics(before: TaskRecord | undefined, after: TaskRecord): MetricPoint[] {
  const points: MetricPoint[] = [];
  if (!before) {
    points.push({ metric: 'restartTaskStarted', value: 1, dimensions: {} });
    return points;
  }
  for (const subtask of after.subtasks) {
    const previous = before.subtasks[subtask.index];
    const outcome = outcomeOf(subtask.status);
    if (!outcome || !previous || !RUNNING_SUBTASK.includes(previous.status)) continue;
    const seconds = secondsBetween(subtask.startTime ?? previous.startTime, subtask.endTime);
    if (seconds === undefined) continue;
    points.push({
      metric: 'subtaskDuration',
      value: seconds,
      dimensions: { subtask: subtaskDimension(subtaskAt(subtask.index).key), outcome },
    });
  }
  const ended = outcomeOf(after.status);
  if (before.status === 'RUNNING' && ended) {
    points.push({ metric: 'restartTaskEnded', value: 1, dimensions: { outcome: ended } });
  }
  return points;
}

/** Seconds since the RUNNING task was last handed to its workflow: started, or reopened or resumed since. */
export function runningTaskAgeSeconds(task: TaskRecord, now: Date): number {
  const since = Math.max(Date.parse(task.startTime), task.resumedAt ? Date.parse(task.resumedAt) : 0);
  return Math.max(0, Math.round((now.getTime() - since) / 1000));
}

/** The running-tasks gauges of one sweep: how many, and how old the oldest is (0 when none runs). */
export function runningTaskGauges(running: readonly TaskRecord[], now: Date): MetricPoint[] {
  const oldest = Math.max(0, ...running.map((task) => runningTaskAgeSeconds(task, now)));
  return [
    { metric: 'runningTasks', value: running.length, dimensions: {} },
    { metric: 'oldestRunningTaskAge', value: oldest, dimensions: {} },
  ];
}

function outcomeOf(status: string): MetricOutcome | undefined {
  return status === 'SUCCESSFUL' || status === 'FAILED' ? status : undefined;
}

function secondsBetween(start: string | undefined, end: string | undefined): number | undefined {
  if (!start || !end) return undefined;
  const ms = Date.parse(end) - Date.parse(start);
  return Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}
