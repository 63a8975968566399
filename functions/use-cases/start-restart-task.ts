import { HostBusy } from '#core/errors';
import { asSafeNumber } from '#core/ids';
import { IDS_PER_TASK } from '#core/subtasks';
import { newRestartTask, type TaskRecord, type TaskType } from '#core/task';
import { type HostRecord, type HostRegistry, requireCommandableHost } from '#store/host-registry';
import type { IdCounter } from '#store/id-block-allocator';
import { DuplicateRequest, type TaskStore } from '#store/task-store';
import { annotateTrace } from '../tracer.ts';
import type { Workflow } from './ports.ts';

export interface RestartRequest {
  hostId: bigint;
  creator: string;
  type: TaskType;
  prohibitRollback: boolean;
  /** Why the restart is asked for; kept on the task. */
  reason?: string;
  /** Makes a repeated request (e.g. an event delivered twice) answer with the task it created. */
  idempotencyKey?: string;
}

export interface RestartDependencies {
  tasks: TaskStore;
  /** Where a new task's ids come from (default the task store's counter; the api takes them in blocks). */
  taskIds?: IdCounter;
  hosts: HostRegistry;
  stateMachineArn: string;
  workflow: Workflow;
}

/** The input of a restart execution, as the state machine reads it. */
export interface RestartExecutionInput {
  taskId: number;
  hostId: number;
  instanceId: string;
  agentHome: string;
  controlScript: string;
  /** Absent for a restart; ROLLBACK routes the run to the rollback state. */
  operation?: 'ROLLBACK';
}

/**
 * Creates the task record (taking the host's lock) and starts its execution, named after the task.
 * If the execution cannot be started the record and the lock are removed again: a failed request
 * leaves nothing behind.
 */
export async function startRestartTask(
  request: RestartRequest,
  deps: RestartDependencies,
): Promise<{ task: TaskRecord; duplicate: boolean }> {
  const { idempotencyKey } = request;
  const hostNumber = asSafeNumber(request.hostId);
  // The lock and the key are checked again, atomically, when the task is written; this early look saves ids.
  const [found, holder, earlier] = await Promise.all([
    deps.hosts.find(request.hostId),
    hostNumber === undefined ? undefined : deps.tasks.lockHolder(hostNumber),
    idempotencyKey === undefined ? undefined : deps.tasks.taskForRequest(idempotencyKey),
  ]);
  if (earlier !== undefined) return { task: await existingTask(deps.tasks, earlier), duplicate: true };
  const host = requireCommandableHost(found, request.hostId);
  if (holder !== undefined) throw new HostBusy(host.hostId, holder);
  const firstId = await (deps.taskIds ?? deps.tasks).allocateIds(IDS_PER_TASK);
  let created: RestartToStart;
  try {
    created = await createRestartTaskOf(host, { ...request, firstId }, deps);
  } catch (error) {
    if (error instanceof DuplicateRequest)
      return { task: await existingTask(deps.tasks, error.taskId), duplicate: true };
    throw error;
  }
  const { task, executionName, input } = created;
  annotateTrace({ taskId: task.id });
  try {
    await deps.workflow.startExecution(deps.stateMachineArn, executionName, input);
  } catch (error) {
    await deps.tasks.deleteUnstartedTask(task, idempotencyKey);
    throw error;
  }
  return { task, duplicate: false };
}

/** A restart task as written, and the execution that runs it: its name and input. */
export interface RestartToStart {
  task: TaskRecord;
  executionName: string;
  input: RestartExecutionInput;
}

export interface NewRestartTask extends Omit<RestartRequest, 'hostId'> {
  /** First of IDS_PER_TASK fresh ids (allocateIds, or those a batch reserved for the host). */
  firstId: number;
}

/**
 * Writes a new restart task of the host, taking its lock (HostBusy names the task holding it), with
 * the request's idempotency key (DuplicateRequest names the task it created); answers the execution
 * to start for it. The one way a restart task is created, alone or within a batch.
 */
export async function createRestartTaskOf(
  host: HostRecord,
  request: NewRestartTask,
  deps: Pick<RestartDependencies, 'tasks' | 'stateMachineArn'>,
): Promise<RestartToStart> {
  const executionName = restartExecutionName(request.firstId);
  const task = newRestartTask({
    firstId: request.firstId,
    hostId: host.hostId,
    creator: request.creator,
    type: request.type,
    prohibitRollback: request.prohibitRollback,
    ...(request.reason ? { reason: request.reason } : {}),
    executionArn: executionArnFor(deps.stateMachineArn, executionName),
    now: new Date(),
  });
  await deps.tasks.createTask(task, request.idempotencyKey);
  return { task, ...restartExecutionOf(task, host) };
}

/** A restart execution is named after its task, as the API names it. */
export function restartExecutionName(taskId: number): string {
  return `task-${taskId}`;
}

/** The execution that runs a restart task of the host: the same for the same task and host record. */
export function restartExecutionOf(
  task: Pick<TaskRecord, 'id'>,
  host: HostRecord,
): { executionName: string; input: RestartExecutionInput } {
  return {
    executionName: restartExecutionName(task.id),
    input: {
      taskId: task.id,
      hostId: host.hostId,
      instanceId: host.instanceId,
      agentHome: host.agentHome,
      controlScript: host.controlScript,
    },
  };
}

async function existingTask(tasks: TaskStore, taskId: number): Promise<TaskRecord> {
  const task = await tasks.getTask(taskId);
  if (!task) throw new Error(`Task ${taskId} of a repeated request is missing`);
  return task;
}

/** Execution ARNs follow from the state machine's ARN and the execution's name. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}
