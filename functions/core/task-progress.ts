import { endedBeforeHandover } from './execution-sweep.ts';
import type { SubtaskAttempt, SubtaskRecord, SubtaskStatus, TaskRecord, TaskStatus } from './task.ts';
import { ROLLBACK_SUBTASK_INDEX } from './task-lifecycle.ts';
import { ocpTimestamp } from './time.ts';

/**
 * How the workflow moves a task on: each transition takes the task as read and returns it as it must
 * be written, or undefined when the event does not apply to it (any more): an outcome recorded
 * already, a task ended meanwhile. The store writes the result only if the task is still the version
 * that was read. Operator actions are in task-lifecycle.ts.
 */

const IN_PROGRESS: readonly SubtaskStatus[] = ['RUNNING', 'CANCELING'];
const NOT_STARTED: readonly SubtaskStatus[] = ['READY', 'PENDING'];

/**
 * What the workflow's state for subtask `index` does when it starts with `taskToken`: a subtask runs
 * when it is READY (or PENDING with every subtask before it done) and no other attempt is in progress.
 */
export type AttemptStart =
  /** Begin the subtask's next attempt: write `task`, then send its command. */
  | { action: 'begin'; task: TaskRecord; attempt: number }
  /** This very attempt was begun by an earlier try of the same call whose answer was lost: send its command. */
  | { action: 'send'; attempt: number }
  /** The subtask is done already (skipped, or resumed past after its state timed out): complete the step. */
  | { action: 'complete' }
  /** The subtask cannot run now (the task is not running, or another attempt holds it). */
  | { action: 'refuse'; reason: string };

export function startAttempt(
  task: TaskRecord,
  index: number,
  taskToken: string,
  recorded: SubtaskAttempt | undefined,
  now: Date,
): AttemptStart {
  const subtask = task.subtasks[index];
  if (!subtask) return { action: 'refuse', reason: `task ${task.id} has no subtask ${index}` };
  if (task.status !== 'RUNNING') return { action: 'refuse', reason: `task ${task.id} is ${task.status}` };
  if (subtask.status === 'SUCCESSFUL') return { action: 'complete' };
  const inOrder =
    subtask.status === 'READY' ||
    (subtask.status === 'PENDING' && task.subtasks.slice(0, index).every((s) => s.status === 'SUCCESSFUL'));
  if (inOrder && !task.subtasks.some((s) => IN_PROGRESS.includes(s.status))) {
    const running: SubtaskRecord = {
      ...withoutOutcome(subtask),
      status: 'RUNNING',
      startTime: ocpTimestamp(now),
    };
    return { action: 'begin', task: replaceSubtask(task, running), attempt: subtask.runTime };
  }
  if (
    subtask.status === 'RUNNING' &&
    recorded?.attempt === subtask.runTime &&
    recorded.taskToken === taskToken &&
    recorded.commandId === undefined
  ) {
    return { action: 'send', attempt: subtask.runTime };
  }
  return {
    action: 'refuse',
    reason: `subtask ${index} of task ${task.id} is ${subtask.status}, not ready to run`,
  };
}

/** The end of one attempt of a subtask, as its command reported it. */
export interface AttemptOutcome {
  index: number;
  attempt: number;
  status: Extract<SubtaskStatus, 'SUCCESSFUL' | 'FAILED'>;
  error?: string;
  endTime: string;
}

/**
 * Records the end of a RUNNING (or CANCELING) attempt; a success readies the next subtask, unless the
 * task is a rollback (it runs its one subtask). Undefined for an attempt that is not the one in progress.
 */
export function recordOutcome(task: TaskRecord, outcome: AttemptOutcome): TaskRecord | undefined {
  const subtask = task.subtasks[outcome.index];
  if (!subtask || !IN_PROGRESS.includes(subtask.status) || subtask.runTime !== outcome.attempt)
    return undefined;
  const ended: SubtaskRecord = {
    ...subtask,
    status: outcome.status,
    endTime: outcome.endTime,
    ...(outcome.error ? { error: outcome.error } : {}),
  };
  const next = task.subtasks[outcome.index + 1];
  const readiesNext =
    outcome.status === 'SUCCESSFUL' && task.operation !== 'ROLLBACK' && next?.status === 'PENDING';
  const updated = replaceSubtask(task, ended);
  return readiesNext ? replaceSubtask(updated, { ...next, status: 'READY' }) : updated;
}

/** How a task's execution ended, as the workflow's last state, the reconciler or the sweep saw it. */
export interface TaskEnding {
  status: Extract<TaskStatus, 'SUCCESSFUL' | 'FAILED'>;
  endTime: string;
  /** Why the subtask that was running (or about to run) failed, given its index. */
  failure?: (index: number) => string;
  /** When the execution ended: a task handed back to Step Functions after it is not ended by it. */
  executionEndedAt?: Date;
}

/**
 * Ends a RUNNING task. On failure the subtask the run stopped in — the one in progress, else the one
 * about to run — ends FAILED with the reason, and no other subtask is left READY. A success reported
 * while a subtask has not run is not one: the task ends FAILED at that subtask, saying so. Undefined when
 * the task is not running, or was handed back to Step Functions after the execution ended.
 */
export function finishTask(
  task: TaskRecord,
  ending: TaskEnding,
): { task: TaskRecord; interrupted?: SubtaskRecord } | undefined {
  if (task.status !== 'RUNNING' || endedBeforeHandover(task, ending.executionEndedAt)) return undefined;
  if (ending.status === 'SUCCESSFUL' && hasSucceeded(task)) {
    return { task: { ...task, status: 'SUCCESSFUL', endTime: ending.endTime } };
  }
  const failure =
    ending.status === 'SUCCESSFUL'
      ? () => 'Subtask failed: the workflow reported success although this subtask had not run.'
      : (ending.failure ?? (() => 'Subtask failed: it was interrupted.'));
  // A rollback runs its one subtask; what else failed before is history.
  const candidates = task.operation === 'ROLLBACK' ? [task.subtasks[ROLLBACK_SUBTASK_INDEX]!] : task.subtasks;
  const interrupted =
    candidates.find((s) => IN_PROGRESS.includes(s.status)) ??
    (candidates.some((s) => s.status === 'FAILED')
      ? undefined
      : candidates.find((s) => NOT_STARTED.includes(s.status)));
  const subtasks = task.subtasks.map((subtask): SubtaskRecord => {
    if (subtask.id === interrupted?.id) {
      return { ...subtask, status: 'FAILED', endTime: ending.endTime, error: failure(subtask.index) };
    }
    return subtask.status === 'READY' ? { ...subtask, status: 'PENDING' } : subtask;
  });
  return {
    task: { ...task, status: 'FAILED', endTime: ending.endTime, subtasks },
    ...(interrupted ? { interrupted } : {}),
  };
}

/** Every subtask succeeded; for a rollback, its subtask did (what else ran keeps its own status). */
function hasSucceeded(task: TaskRecord): boolean {
  return task.operation === 'ROLLBACK'
    ? task.subtasks[ROLLBACK_SUBTASK_INDEX]?.status === 'SUCCESSFUL' &&
        task.subtasks.every(
          (subtask) => !IN_PROGRESS.includes(subtask.status) && !NOT_STARTED.includes(subtask.status),
        )
    : task.subtasks.every((subtask) => subtask.status === 'SUCCESSFUL');
}

/**
 * Records that a RUNNING task is handed back to Step Functions (see TaskRecord.resumedAt); undefined
 * once it ended.
 */
export function markResumed(task: TaskRecord, now: Date): TaskRecord | undefined {
  return task.status === 'RUNNING' ? { ...task, resumedAt: ocpTimestamp(now) } : undefined;
}

/** What a write of `after` over `before` does to the host's lock: held exactly while the task runs. */
export function lockChange(before: TaskRecord | undefined, after: TaskRecord): 'take' | 'release' | 'keep' {
  const wasRunning = before?.status === 'RUNNING';
  const runs = after.status === 'RUNNING';
  if (runs === wasRunning) return 'keep';
  return runs ? 'take' : 'release';
}

function replaceSubtask(task: TaskRecord, subtask: SubtaskRecord): TaskRecord {
  return { ...task, subtasks: task.subtasks.map((s) => (s.index === subtask.index ? subtask : s)) };
}

function withoutOutcome(subtask: SubtaskRecord): SubtaskRecord {
  const { startTime: _s, endTime: _e, error: _error, ...kept } = subtask;
  return kept;
}
