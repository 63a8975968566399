import { RESTART_SUBTASKS, RESTART_TASK_NAME, subtaskAt } from './subtasks.ts';
import type { Operation, SubtaskStatus, TaskStatus, TaskType } from './task-statuses.ts';
import { ocpTimestamp } from './time.ts';

export {
  OPERATIONS,
  type Operation,
  SUBTASK_STATUSES,
  type SubtaskStatus,
  TASK_STATUSES,
  TASK_TYPES,
  type TaskStatus,
  type TaskType,
} from './task-statuses.ts';

/** A subtask as stored: only what changes; the rest comes from RESTART_SUBTASKS by index. */
export interface SubtaskRecord {
  id: number;
  /** Its position in the task (and in RESTART_SUBTASKS). */
  index: number;
  status: SubtaskStatus;
  operation: Operation;
  /** The attempt it is on: 1 until it has run, then how many times it has run. */
  runTime: number;
  startTime?: string;
  endTime?: string;
  /** Why the subtask failed, for an operator. */
  error?: string;
}

/** What one attempt of a subtask needs to be completed or stopped: kept beside the task, not in it. */
export interface SubtaskAttempt {
  taskId: number;
  subtaskId: number;
  attempt: number;
  /** Step Functions task token of the workflow step waiting for the attempt. */
  taskToken: string;
  /** SSM command of the attempt, once sent. */
  commandId?: string;
  /** The instance the command was sent to (its output streams are named after it). */
  instanceId?: string;
}

/** A restart task as stored in the task table. */
export interface TaskRecord {
  id: number;
  /** How many times the record was written: a write is refused unless it read the version it replaces. */
  version: number;
  name: string;
  status: TaskStatus;
  type: TaskType;
  operation: Operation;
  creator: string;
  /** ARN of the Step Functions execution that runs the task. */
  executor: string;
  hostId: number;
  startTime: string;
  endTime?: string;
  /**
   * When the task was last handed back to Step Functions after its execution had ended: reopened by
   * retry, skip or rollback, or resumed past a subtask that had succeeded although its state timed out.
   */
  resumedAt?: string;
  prohibitRollback: boolean;
  /** Why the restart was asked for (an event's or a schedule's reason). */
  reason?: string;
  subtasks: SubtaskRecord[];
}

export interface NewTaskInput {
  /** First of IDS_PER_TASK consecutive fresh ids. */
  firstId: number;
  hostId: number;
  creator: string;
  type: TaskType;
  prohibitRollback: boolean;
  reason?: string;
  executionArn: string;
  now: Date;
}

/** The id of a task's subtask `index`: a task's ids are consecutive, its own first. */
export const subtaskIdOf = (taskId: number, index: number) => taskId + 1 + index;

/** Builds a new task: the first subtask READY, the rest PENDING, ids consecutive from firstId. */
export function newRestartTask(input: NewTaskInput): TaskRecord {
  return {
    id: input.firstId,
    version: 1,
    name: RESTART_TASK_NAME,
    status: 'RUNNING',
    type: input.type,
    operation: 'EXECUTE',
    creator: input.creator,
    executor: input.executionArn,
    hostId: input.hostId,
    startTime: ocpTimestamp(input.now),
    prohibitRollback: input.prohibitRollback,
    ...(input.reason ? { reason: input.reason } : {}),
    subtasks: RESTART_SUBTASKS.map((_, index) => ({
      id: subtaskIdOf(input.firstId, index),
      index,
      status: index === 0 ? 'READY' : 'PENDING',
      operation: 'EXECUTE',
      runTime: 1,
    })),
  };
}

/** The subtask of an OCP task as the API shows it. */
export interface OcpSubtask {
  className: string;
  description: string;
  downstreams: number[];
  id: number;
  name: string;
  nodeType: 'JAVA_TASK';
  operation: Operation;
  parallelIdx: number;
  prohibitRollback: boolean;
  runTime: number;
  seriesId: number;
  status: SubtaskStatus;
  timeout: number;
  upstreams: number[];
  startTime?: string;
  endTime?: string;
  error?: string;
}

/** The task as the API shows it, field for field as OCP does. */
export interface OcpTask {
  context: {
    listMap: Record<string, string[]>;
    parallel: boolean;
    parallelIdx: number;
    /** OCP's context values, all strings; `reason` only for a restart that gave one. */
    stringMap: { prohibit_rollback: string; host_id: string; reason?: string };
  };
  creator: string;
  executor: string;
  hostId: number;
  id: number;
  name: string;
  operation: Operation;
  startTime: string;
  endTime?: string;
  status: TaskStatus;
  subtasks: OcpSubtask[];
  taskDefinitionId: number;
  type: TaskType;
}

export function toOcpTask(task: TaskRecord): OcpTask {
  const ids = task.subtasks.map((subtask) => subtask.id);
  return {
    context: {
      listMap: {},
      parallel: false,
      parallelIdx: -1,
      stringMap: {
        prohibit_rollback: String(task.prohibitRollback),
        host_id: String(task.hostId),
        ...(task.reason ? { reason: task.reason } : {}),
      },
    },
    creator: task.creator,
    executor: task.executor,
    hostId: task.hostId,
    id: task.id,
    name: task.name,
    operation: task.operation,
    startTime: task.startTime,
    ...(task.endTime ? { endTime: task.endTime } : {}),
    status: task.status,
    subtasks: task.subtasks.map((subtask, position) => {
      const definition = subtaskAt(subtask.index);
      const previous = ids[position - 1];
      const next = ids[position + 1];
      return {
        className: definition.className,
        description: definition.description,
        downstreams: next === undefined ? [] : [next],
        id: subtask.id,
        name: definition.name,
        nodeType: 'JAVA_TASK',
        operation: subtask.operation,
        parallelIdx: -1,
        prohibitRollback: task.prohibitRollback,
        runTime: subtask.runTime,
        seriesId: definition.seriesId,
        status: subtask.status,
        timeout: definition.timeoutSeconds,
        upstreams: previous === undefined ? [] : [previous],
        ...(subtask.startTime ? { startTime: subtask.startTime } : {}),
        ...(subtask.endTime ? { endTime: subtask.endTime } : {}),
        ...(subtask.error ? { error: subtask.error } : {}),
      };
    }),
    taskDefinitionId: -1,
    type: task.type,
  };
}
