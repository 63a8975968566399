import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { sfn } from '#aws/sfn';
import { HostBusy, HostNotFound } from '#core/errors';
import { isValidHostParameter } from '#core/host-parameters';
import { asSafeNumber } from '#core/ids';
import { IDS_PER_TASK } from '#core/subtasks';
import { newRestartTask, type TaskRecord, type TaskType } from '#core/task';
import type { HostRegistry } from '#store/host-registry';
import type { TaskStore } from '#store/task-store';

export interface RestartRequest {
  hostId: bigint;
  creator: string;
  type: TaskType;
  prohibitRollback: boolean;
}

export interface RestartDependencies {
  tasks: TaskStore;
  hosts: HostRegistry;
  stateMachineArn: string;
}

/** The input of a restart execution, as the state machine reads it. */
export interface RestartExecutionInput {
  taskId: number;
  hostId: number;
  instanceId: string;
  agentHome: string;
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
): Promise<TaskRecord> {
  const hostNumber = asSafeNumber(request.hostId);
  // The lock is checked again, atomically, when the task is written; this early look saves ids.
  const [host, holder] = await Promise.all([
    deps.hosts.find(request.hostId),
    hostNumber === undefined ? undefined : deps.tasks.lockHolder(hostNumber),
  ]);
  if (
    !host ||
    !isValidHostParameter('instanceId', host.instanceId) ||
    !isValidHostParameter('agentHome', host.agentHome)
  ) {
    throw new HostNotFound(request.hostId);
  }
  if (holder !== undefined) throw new HostBusy(host.hostId, holder);
  const firstId = await deps.tasks.allocateIds(IDS_PER_TASK);
  const executionName = `task-${firstId}`;
  const task = newRestartTask({
    firstId,
    hostId: host.hostId,
    creator: request.creator,
    type: request.type,
    prohibitRollback: request.prohibitRollback,
    executionArn: executionArnFor(deps.stateMachineArn, executionName),
    now: new Date(),
  });
  await deps.tasks.createTask(task);
  const input: RestartExecutionInput = {
    taskId: task.id,
    hostId: host.hostId,
    instanceId: host.instanceId,
    agentHome: host.agentHome,
  };
  try {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: deps.stateMachineArn,
        name: executionName,
        input: JSON.stringify(input),
      }),
    );
  } catch (error) {
    await deps.tasks.deleteUnstartedTask(task);
    throw error;
  }
  return task;
}

/** Execution ARNs follow from the state machine's ARN and the execution's name. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}
