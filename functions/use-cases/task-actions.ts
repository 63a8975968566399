import { TaskNotFound, TaskNotResumable } from '#core/errors';
import type { TaskRecord } from '#core/task';
import {
  cancelSubtask,
  ROLLBACK_SUBTASK_INDEX,
  retryTask,
  rollbackTask,
  skipSubtask,
} from '#core/task-lifecycle';
import { type HostRecord, type HostRegistry, requireCommandableHost } from '#store/host-registry';
import { StaleRecord, type TaskStore } from '#store/task-store';
import { ExecutionNotFound, ExecutionNotRedrivable, type HostCommands, type Workflow } from './ports.ts';
import { executionArnFor, type RestartExecutionInput } from './start-restart-task.ts';

export interface TaskActionDependencies {
  tasks: TaskStore;
  hosts: HostRegistry;
  stateMachineArn: string;
  workflow: Workflow;
  hostCommands: HostCommands;
}

/**
 * Retry: the failed execution is redriven from the failed subtask; earlier subtasks do not run again.
 * Refused, changing nothing, once Step Functions' redrive window has passed (RedriveWindowClosed).
 */
export async function retry(taskId: number, deps: TaskActionDependencies): Promise<TaskRecord> {
  const task = await load(taskId, deps);
  const reopened = retryTask(task, new Date());
  await commandableHostOf(task, deps);
  return resume(task, reopened, deps, () => redrive(task, deps.workflow));
}

/** Skip: the failed subtask counts as done and the redriven execution goes on from the next one (same window). */
export async function skip(
  taskId: number,
  subtaskId: number,
  deps: TaskActionDependencies,
): Promise<TaskRecord> {
  const task = await load(taskId, deps);
  const reopened = skipSubtask(task, subtaskId, new Date());
  await commandableHostOf(task, deps);
  return resume(task, reopened, deps, () => redrive(task, deps.workflow));
}

/** Rollback: an execution of its own runs "Start all OCP agent processes" again, so the agent runs. */
export async function rollback(taskId: number, deps: TaskActionDependencies): Promise<TaskRecord> {
  const task = await load(taskId, deps);
  const reopened = rollbackTask(task, new Date());
  const host = await commandableHostOf(task, deps);
  const name = `task-${task.id}-rollback-${reopened.subtasks[ROLLBACK_SUBTASK_INDEX]!.runTime}`;
  const withExecutor = { ...reopened, executor: executionArnFor(deps.stateMachineArn, name) };
  const input: RestartExecutionInput = {
    taskId: task.id,
    hostId: task.hostId,
    instanceId: host.instanceId,
    agentHome: host.agentHome,
    controlScript: host.controlScript,
    operation: 'ROLLBACK',
  };
  return resume(task, withExecutor, deps, () =>
    deps.workflow.startExecution(deps.stateMachineArn, name, input),
  );
}

/**
 * Cancel: the running subtask goes CANCELING and its command is cancelled; SSM's Cancelled event then
 * ends it FAILED and fails the execution, which ends the task FAILED (retryable) and frees the host.
 */
export async function cancel(
  taskId: number,
  subtaskId: number,
  deps: TaskActionDependencies,
): Promise<TaskRecord> {
  const task = await load(taskId, deps);
  const { task: canceling, subtask } = cancelSubtask(task, subtaskId);
  const saved = await deps.tasks.save(task, canceling);
  const commandId = await deps.tasks.commandOf(task.id, subtask);
  if (commandId) {
    await deps.hostCommands.cancel(commandId);
  } else {
    // No command was sent yet: stopping the execution ends the attempt through the reconciler.
    await deps.workflow.stop(task.executor, 'SubtaskCancelled', 'Cancelled by an operator');
  }
  return saved;
}

async function load(taskId: number, deps: TaskActionDependencies): Promise<TaskRecord> {
  const task = await deps.tasks.getTask(taskId);
  if (!task) throw new TaskNotFound(taskId);
  return task;
}

/**
 * Retry, skip and rollback send commands to the task's host again, so they need it still registered
 * and valid, as a restart does; cancel does not, since it only stops what runs.
 */
async function commandableHostOf(task: TaskRecord, deps: TaskActionDependencies): Promise<HostRecord> {
  return requireCommandableHost(await deps.hosts.find(BigInt(task.hostId)), task.hostId);
}

/** Records the reopened task (taking the host's lock), then resumes the workflow; undone if that fails. */
async function resume(
  previous: TaskRecord,
  reopened: TaskRecord,
  deps: TaskActionDependencies,
  resumeWorkflow: () => Promise<void>,
): Promise<TaskRecord> {
  const saved = await deps.tasks.save(previous, reopened);
  try {
    await resumeWorkflow();
  } catch (error) {
    try {
      await deps.tasks.save(saved, previous);
    } catch (restoreError) {
      // The workflow moved the task meanwhile: the call took effect after all, and the task is its own.
      if (!(restoreError instanceof StaleRecord)) throw restoreError;
    }
    throw error;
  }
  return saved;
}

/** Redrives the task's failed execution; one that is gone or past redrive makes the task not resumable. */
async function redrive(task: TaskRecord, workflow: Workflow): Promise<void> {
  try {
    await workflow.redrive(task.executor);
  } catch (error) {
    if (error instanceof ExecutionNotFound || error instanceof ExecutionNotRedrivable)
      throw new TaskNotResumable(task.id);
    throw error;
  }
}
