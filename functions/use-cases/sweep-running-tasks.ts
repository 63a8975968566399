import { statusEventOverdue } from '#core/command-outcome';
import { type ExecutionView, sweepVerdict } from '#core/execution-sweep';
import type { TaskRecord } from '#core/task';
import { runningTaskGauges } from '#core/task-metrics';
import type { HostLock } from '#store/task-store';
import type { WorkflowTaskStore } from '#store/workflow-task-store';
import { logger } from '../logger.ts';
import { emitMetrics } from '../metrics.ts';
import { endTask } from './end-task.ts';
import type { HostCommands, Workflow } from './ports.ts';
import { recordCommandOutcome } from './record-command-outcome.ts';

export interface SweepOptions {
  /** Hand-overs to Step Functions made before this are settled (see sweepVerdict). */
  handoversSettledBefore: Date;
  /** Commands that ended before this have lost their status event (statusEventOverdue). */
  statusEventsDueBefore: Date;
  /** Where SSM writes the commands' full output, for the subtask logs it records. */
  outputLogGroup: string;
  workflow: Workflow;
  hostCommands: HostCommands;
  /** When the sweep runs, for the age of the oldest running task. @default the current time */
  now?: Date;
}

export interface SweepResult {
  /** Tasks ended as their execution had ended. */
  fixed: number[];
  /** Tasks whose running subtask's command had ended unnoticed: its outcome recorded, its step completed. */
  completed: number[];
  /** Tasks that had ended while their host's lock still named them: the lock freed. */
  released: number[];
  /** Tasks the sweep could not check this time (logged); the next sweep tries again. */
  failed: number[];
}

/**
 * Safety net for lost status events (both Step Functions' and SSM's are best effort). It visits the
 * tasks that hold a host lock — every RUNNING task does, from the transaction that starts it to the
 * one that ends it — so its cost follows the running tasks, not the history. For each: if its
 * execution ended, the task is ended as its execution did; if it still runs, each running subtask
 * whose command has ended has that outcome recorded and its step completed, exactly as SSM's event
 * would have done. A lock whose task is not RUNNING any more is freed.
 */
export async function sweepRunningTasks(
  tasks: WorkflowTaskStore,
  options: SweepOptions,
): Promise<SweepResult> {
  const result: SweepResult = { fixed: [], completed: [], released: [], failed: [] };
  /** The tasks still RUNNING after this sweep (those it could not check too), for the running-tasks gauges. */
  const running = new Map<number, TaskRecord>();
  for (const lock of await tasks.hostLocks()) {
    try {
      // The locks' index may lag: decide on the task as it is now.
      const task = await tasks.getTask(lock.taskId);
      if (task?.status !== 'RUNNING') {
        if (await releaseLockOfEndedTask(tasks, lock, task)) result.released.push(lock.taskId);
        continue;
      }
      running.set(task.id, task);
      const { execution, instanceId } = await describe(options.workflow, task.executor);
      const verdict = sweepVerdict(task, execution, options.handoversSettledBefore);
      if (verdict.action === 'end') {
        await endTask(tasks, task.id, { ...verdict.outcome, ...(instanceId ? { instanceId } : {}) }, options);
        result.fixed.push(task.id);
        running.delete(task.id);
      } else if (verdict.executionRunning && instanceId) {
        if (await completeEndedCommands(tasks, task, instanceId, options)) result.completed.push(task.id);
      }
    } catch (error) {
      logger.error('Could not sweep the task', { error, taskId: lock.taskId });
      result.failed.push(lock.taskId);
    }
  }
  emitMetrics(runningTaskGauges([...running.values()], options.now ?? new Date()));
  return result;
}

/**
 * A lock listed for a task that is not RUNNING: usually one freed a moment ago that the index still
 * shows (nothing to do); otherwise a lock no transaction should have left, freed so the host can be
 * restarted again.
 */
async function releaseLockOfEndedTask(
  tasks: WorkflowTaskStore,
  lock: HostLock,
  task: TaskRecord | undefined,
): Promise<boolean> {
  if (!(await tasks.releaseLockOfEndedTask(lock))) return false;
  logger.warn('Freed the host lock of a task that had ended', {
    taskId: lock.taskId,
    hostId: lock.hostId,
    taskStatus: task?.status ?? 'none',
  });
  return true;
}

/** Records the outcome of each running subtask whose command ended long enough ago without its status event. */
async function completeEndedCommands(
  tasks: WorkflowTaskStore,
  task: TaskRecord,
  instanceId: string,
  options: SweepOptions,
): Promise<boolean> {
  let completed = false;
  for (const subtask of task.subtasks) {
    if (subtask.status !== 'RUNNING' && subtask.status !== 'CANCELING') continue;
    const commandId = await tasks.commandOf(task.id, subtask);
    if (!commandId) continue;
    const invocation = await options.hostCommands.invocation(commandId, instanceId);
    if (!invocation || !statusEventOverdue(invocation, options.statusEventsDueBefore)) continue;
    if ((await recordCommandOutcome(tasks, invocation, options)) === 'completed') {
      logger.warn('Recorded a command that ended without its status event', {
        taskId: task.id,
        commandId,
        status: invocation.status,
      });
      completed = true;
    }
  }
  return completed;
}

async function describe(
  workflow: Workflow,
  executionArn: string,
): Promise<{ execution: ExecutionView | undefined; instanceId?: string }> {
  const described = await workflow.describe(executionArn);
  if (!described) return { execution: undefined };
  const { input, ...execution } = described;
  return { execution, ...instanceOf(input) };
}

/** The instance the execution sends its commands to, from its input. */
function instanceOf(input: string | undefined): { instanceId?: string } {
  try {
    const parsed: unknown = JSON.parse(input ?? '{}');
    if (
      parsed &&
      typeof parsed === 'object' &&
      'instanceId' in parsed &&
      typeof parsed.instanceId === 'string'
    )
      return { instanceId: parsed.instanceId };
  } catch {
    // Not JSON: no instance to ask SSM about.
  }
  return {};
}
