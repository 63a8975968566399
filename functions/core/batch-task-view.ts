import {
  type BatchHostRecord,
  type BatchHostStatus,
  type BatchOperation,
  type BatchRecord,
  reservedTaskId,
  waitNodeId,
} from './batch-task.ts';
import type { RolloutSettings } from './rollout.ts';
import { RESTART_SUBTASKS, subtaskAt } from './subtasks.ts';
import {
  type OcpSubtask,
  type SubtaskStatus,
  subtaskIdOf,
  type TaskRecord,
  type TaskStatus,
  type TaskType,
} from './task.ts';
import { boundedError } from './task-limits.ts';

/**
 * The batch as OCP's batchRestartAgents answers it. OCP's sample (a batch of host 2): name "Batch restart
 * OCP agent"; `context` `{ listMap: { host_ids: ["2"] }, parallel: false, parallelIdx: -1, stringMap:
 * { prohibit_rollback: "false" } }`, with no `host_id` in stringMap and no top-level `hostId`; `subtasks`:
 * each host's five restart subtasks (names, class names, node type, timeouts as for one host) with
 * `parallelIdx` the host's index in the batch, the first of each chain READY. OCP's batch-stop sample
 * joins the parallel chains with a "Wait node" (className com.alipay.ocp.service.task.business.WaitNode,
 * JAVA_TASK, timeout 30, parallelIdx -1).
 *
 * Here one Wait node follows every chain: its upstreams are each host's last subtask, and it succeeds
 * when the batch does. Subtask ids are unique within the view: a host's subtasks carry its restart
 * task's own ids when it has one, else the ids reserved for that task (reservedTaskId), which the
 * task takes when it starts; ids all come from one counter, so no two hosts' ranges meet.
 */
export interface OcpBatchTask {
  context: {
    listMap: { host_ids: string[] };
    parallel: boolean;
    parallelIdx: number;
    /** `reason` only for a batch that gave one (an event's or a schedule's). */
    stringMap: { prohibit_rollback: string; reason?: string };
  };
  creator: string;
  executor: string;
  id: number;
  name: string;
  operation: BatchOperation;
  startTime: string;
  endTime?: string;
  status: TaskStatus;
  subtasks: OcpSubtask[];
  taskDefinitionId: number;
  type: TaskType;
  /** Beyond OCP: the rollout controls the batch runs with. */
  rollout: RolloutSettings;
  /** Beyond OCP: where each host stands, in the order of the request. */
  hosts: OcpBatchHost[];
}

export interface OcpBatchHost {
  hostId: number;
  status: BatchHostStatus;
  taskId?: number;
  /** Name of the subtask the host's restart failed at. */
  failedSubtask?: string;
  error?: string;
  /** Why the host did not start. */
  reason?: string;
}

/**
 * Longest error the view shows, of a host or of a subtask, its middle cut: a 1,000-host view must fit
 * Lambda's 6 MB response, and a host's full errors are in its own task (GET the host's taskId).
 */
export const MAX_BATCH_VIEW_ERROR_LENGTH = 200;

/** OCP's join of parallel branches, as its batch-stop sample shows it; OCP gives it no series. */
export const WAIT_NODE = {
  name: 'Wait node',
  className: 'com.alipay.ocp.service.task.business.WaitNode',
  timeoutSeconds: 30,
  seriesId: -1,
} as const;

/**
 * The OCP view of a batch from its records and the restart tasks of its hosts that have one (by task
 * id). A subtask shows an error only while FAILED (a skipped subtask's old error is in its task).
 */
export function toOcpBatchTask(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  hostTasks: ReadonlyMap<number, TaskRecord>,
): OcpBatchTask {
  const ordered = [...hosts].sort((a, b) => a.index - b.index);
  const chains = ordered.map((host) => hostChain(batch, host, hostTasks));
  const lastIds = chains.flatMap((chain) => chain.slice(-1).map((subtask) => subtask.id));
  return {
    ...batchFields(batch, { host_ids: ordered.map((host) => String(host.hostId)) }),
    subtasks: [...chains.flat(), waitNode(batch, lastIds)],
    taskDefinitionId: -1,
    type: batch.type,
    rollout: batch.rollout,
    hosts: ordered.map(hostSummary),
  };
}

/** The batch's own fields, in OCP's order, as the full view and the listing both show them. */
function batchFields<ListMap>(batch: BatchRecord, listMap: ListMap) {
  return {
    context: {
      listMap,
      parallel: false,
      parallelIdx: -1,
      stringMap: {
        prohibit_rollback: String(batch.prohibitRollback),
        ...(batch.reason ? { reason: batch.reason } : {}),
      },
    },
    creator: batch.creator,
    executor: batch.executor,
    id: batch.id,
    name: batch.name,
    operation: batch.operation,
    startTime: batch.startTime,
    ...(batch.endTime ? { endTime: batch.endTime } : {}),
    status: batch.status,
  };
}

function hostChain(
  batch: BatchRecord,
  host: BatchHostRecord,
  hostTasks: ReadonlyMap<number, TaskRecord>,
): OcpSubtask[] {
  const task = host.taskId === undefined ? undefined : hostTasks.get(host.taskId);
  const firstId = host.taskId ?? reservedTaskId(batch, host.index);
  const steps = task
    ? task.subtasks.map((subtask) => ({ ...subtask, prohibitRollback: task.prohibitRollback }))
    : RESTART_SUBTASKS.map((_, index) => ({
        id: subtaskIdOf(firstId, index),
        index,
        status: placeholderStatus(batch, host, index),
        operation: 'EXECUTE' as const,
        runTime: 1,
        prohibitRollback: batch.prohibitRollback,
      }));
  const last = waitNodeId(batch);
  return steps.map((step, position) => {
    const definition = subtaskAt(step.index);
    const previous = steps[position - 1]?.id;
    const next = steps[position + 1]?.id ?? last;
    return {
      className: definition.className,
      description: definition.description,
      downstreams: [next],
      id: step.id,
      name: definition.name,
      nodeType: 'JAVA_TASK',
      operation: step.operation,
      parallelIdx: host.index,
      prohibitRollback: step.prohibitRollback,
      runTime: step.runTime,
      seriesId: definition.seriesId,
      status: step.status,
      timeout: definition.timeoutSeconds,
      upstreams: previous === undefined ? [] : [previous],
      ...('startTime' in step && step.startTime ? { startTime: step.startTime } : {}),
      ...('endTime' in step && step.endTime ? { endTime: step.endTime } : {}),
      ...('error' in step && step.error && step.status === 'FAILED'
        ? { error: boundedError(step.error, MAX_BATCH_VIEW_ERROR_LENGTH) }
        : {}),
    };
  });
}

/** A host without its task yet: its chain READY to start while the batch may still start it. */
function placeholderStatus(batch: BatchRecord, host: BatchHostRecord, index: number): SubtaskStatus {
  const mayStart = batch.status === 'RUNNING' && batch.operation !== 'CANCEL' && host.status === 'PENDING';
  return mayStart && index === 0 ? 'READY' : 'PENDING';
}

function waitNode(batch: BatchRecord, upstreams: number[]): OcpSubtask {
  const done = batch.status === 'SUCCESSFUL';
  return {
    className: WAIT_NODE.className,
    description: WAIT_NODE.name,
    downstreams: [],
    id: waitNodeId(batch),
    name: WAIT_NODE.name,
    nodeType: 'JAVA_TASK',
    operation: batch.operation,
    parallelIdx: -1,
    prohibitRollback: batch.prohibitRollback,
    runTime: 1,
    seriesId: WAIT_NODE.seriesId,
    status: done ? 'SUCCESSFUL' : 'PENDING',
    timeout: WAIT_NODE.timeoutSeconds,
    upstreams,
    ...(done && batch.endTime ? { startTime: batch.endTime, endTime: batch.endTime } : {}),
  };
}

function hostSummary(host: BatchHostRecord): OcpBatchHost {
  return {
    hostId: host.hostId,
    status: host.status,
    ...(host.taskId === undefined ? {} : { taskId: host.taskId }),
    ...(host.failedSubtask === undefined ? {} : { failedSubtask: subtaskAt(host.failedSubtask).name }),
    ...(host.error ? { error: boundedError(host.error, MAX_BATCH_VIEW_ERROR_LENGTH) } : {}),
    ...(host.reason ? { reason: host.reason } : {}),
  };
}

/**
 * A batch as a task listing shows it: its fields and rollout, its number of hosts, and no subtasks, no
 * hosts and no host ids, so that a page of 100 batches of 1,000 hosts stays small (a whole batch view
 * takes up to 5.3 MB at 1,000 hosts). GET the batch by its id for its subtasks and hosts.
 */
export interface OcpBatchListing extends Omit<OcpBatchTask, 'context' | 'subtasks' | 'hosts'> {
  context: Omit<OcpBatchTask['context'], 'listMap'> & { listMap: Record<string, never> };
  subtasks: [];
  hostCount: number;
}

export function toOcpBatchListing(batch: BatchRecord): OcpBatchListing {
  return {
    ...batchFields(batch, {} as Record<string, never>),
    subtasks: [],
    taskDefinitionId: -1,
    type: batch.type,
    rollout: batch.rollout,
    hostCount: batch.hostCount,
  };
}
