import type { BatchHostStatus } from './batch-host-status.ts';
import { TaskStateInvalid } from './errors.ts';
import {
  busyReason,
  errorThresholdExceeded,
  mayStartHost,
  type RolloutCounts,
  type RolloutSettings,
  thresholdReason,
} from './rollout.ts';
import { IDS_PER_TASK } from './subtasks.ts';
import type { TaskRecord, TaskStatus, TaskType } from './task.ts';
import { BATCH_ACTION_STATUS } from './task-actions-allowed.ts';
import { boundedError } from './task-limits.ts';
import { ocpTimestamp } from './time.ts';

/**
 * A batch restart (OCP's batchRestartAgents): one task over many hosts. The batch and each of its
 * hosts are separate records, so a 1,000-host batch is 1,001 small items rather than one beyond
 * DynamoDB's 400 KB. Each host restarts through a restart task of its own (task.ts); the batch records
 * which task, and how it ended. Every change is a pure function returning what must be written; the
 * store writes it only if the record is still the version that was read.
 */

export const BATCH_TASK_NAME = 'Batch restart OCP agent';

export type BatchOperation = 'EXECUTE' | 'RETRY' | 'CANCEL';
export type { BatchHostStatus };

export interface BatchRecord {
  id: number;
  version: number;
  name: string;
  /** SUCCESSFUL only once every host succeeded; FAILED once every host ended and one did not. */
  status: TaskStatus;
  /** CANCEL while a cancelled batch waits for its running hosts to end. */
  operation: BatchOperation;
  type: TaskType;
  creator: string;
  /** What runs the batch (e.g. the ARN of its execution). */
  executor: string;
  startTime: string;
  endTime?: string;
  rollout: RolloutSettings;
  prohibitRollback: boolean;
  hostCount: number;
  /** Why the batch was asked for (an event's or a schedule's reason). */
  reason?: string;
}

/** One host of a batch, at position `index` of the request. */
export interface BatchHostRecord {
  batchId: number;
  index: number;
  hostId: number;
  version: number;
  status: BatchHostStatus;
  /** The host's restart task, once started (kept on retry, so its own retry can resume it). */
  taskId?: number;
  startTime?: string;
  endTime?: string;
  /** Index in RESTART_SUBTASKS of the subtask the host's restart failed at. */
  failedSubtask?: number;
  /** Why the host's restart failed, bounded as a subtask's error is (task-limits.ts). */
  error?: string;
  /** Why the host did not start: the error threshold, another operation holding it, a cancel. */
  reason?: string;
  /** The task of another agent operation that held the host when its turn came: counts as a failure. */
  busyWithTaskId?: number;
}

/**
 * Ids one batch takes: its own, IDS_PER_TASK per host and one for its Wait node. Host i's are reserved
 * for its restart task (reservedTaskId), so the batch's view keeps the same subtask ids before and after
 * the host starts.
 */
export function idsPerBatch(hostCount: number): number {
  return 1 + hostCount * IDS_PER_TASK + 1;
}

/** The first id of host `index`'s restart task: pass it as the task's firstId. */
export function reservedTaskId(batch: Pick<BatchRecord, 'id'>, index: number): number {
  return batch.id + 1 + index * IDS_PER_TASK;
}

/** The id of the batch's Wait node, after every host's ids. */
export function waitNodeId(batch: Pick<BatchRecord, 'id' | 'hostCount'>): number {
  return batch.id + 1 + batch.hostCount * IDS_PER_TASK;
}

export interface NewBatchInput {
  /** First of idsPerBatch(hostIds.length) consecutive fresh ids. */
  firstId: number;
  hostIds: readonly number[];
  creator: string;
  type: TaskType;
  prohibitRollback: boolean;
  rollout: RolloutSettings;
  executor: string;
  now: Date;
  reason?: string;
}

/** A new batch, RUNNING, every host PENDING. */
export function newBatch(input: NewBatchInput): { batch: BatchRecord; hosts: BatchHostRecord[] } {
  if (input.hostIds.length === 0) throw new RangeError('A batch needs at least one host');
  const batch: BatchRecord = {
    id: input.firstId,
    version: 1,
    name: BATCH_TASK_NAME,
    status: 'RUNNING',
    operation: 'EXECUTE',
    type: input.type,
    creator: input.creator,
    executor: input.executor,
    startTime: ocpTimestamp(input.now),
    rollout: input.rollout,
    prohibitRollback: input.prohibitRollback,
    hostCount: input.hostIds.length,
    ...(input.reason ? { reason: input.reason } : {}),
  };
  const hosts = input.hostIds.map(
    (hostId, index): BatchHostRecord => ({
      batchId: batch.id,
      index,
      hostId,
      version: 1,
      status: 'PENDING',
    }),
  );
  return { batch, hosts };
}

/** How many hosts are where; `failures` is what maxErrors is compared with. */
export interface BatchCounts extends RolloutCounts {
  total: number;
  pending: number;
  succeeded: number;
  failed: number;
  /** NOT_STARTED, busy or stopped by the threshold. */
  notStarted: number;
  busy: number;
  canceled: number;
}

export function countHosts(hosts: readonly BatchHostRecord[]): BatchCounts {
  const counts: BatchCounts = {
    total: hosts.length,
    pending: 0,
    running: 0,
    succeeded: 0,
    failed: 0,
    notStarted: 0,
    busy: 0,
    canceled: 0,
    failures: 0,
  };
  for (const host of hosts) {
    if (host.status === 'PENDING') counts.pending += 1;
    else if (host.status === 'RUNNING') counts.running += 1;
    else if (host.status === 'SUCCESSFUL') counts.succeeded += 1;
    else if (host.status === 'FAILED') counts.failed += 1;
    else if (host.status === 'CANCELED') counts.canceled += 1;
    else {
      counts.notStarted += 1;
      if (host.busyWithTaskId !== undefined) counts.busy += 1;
    }
  }
  counts.failures = counts.failed + counts.busy;
  return counts;
}

/**
 * The PENDING hosts to start now, in order: as many as maxConcurrency leaves room for; none once the
 * threshold is crossed or the batch is cancelled. Start them one by one with hostStarted, which checks
 * again against the hosts as they then are (a host found busy may cross the threshold).
 */
export function hostsToStart(batch: BatchRecord, hosts: readonly BatchHostRecord[]): BatchHostRecord[] {
  if (!isRolling(batch)) return [];
  const counts = countHosts(hosts);
  if (!mayStartHost(counts, batch.rollout).start) return [];
  return pendingInOrder(hosts).slice(0, batch.rollout.maxConcurrency - counts.running);
}

/**
 * Records that host `index` started restarting with task `taskId`; undefined when it may not start.
 * `hosts` is every host of the batch as read: the limits are checked against them.
 */
export function hostStarted(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  index: number,
  taskId: number,
  now: Date,
): BatchHostRecord | undefined {
  const host = hosts.find((candidate) => candidate.index === index);
  if (host?.status !== 'PENDING' || !isRolling(batch)) return undefined;
  if (!mayStartHost(countHosts(hosts), batch.rollout).start) return undefined;
  return { ...withoutOutcome(host), status: 'RUNNING', taskId, startTime: ocpTimestamp(now) };
}

/** How a host's restart task ended. */
export type HostOutcome = { taskId: number; endTime: string } & (
  | { status: 'SUCCESSFUL' }
  | { status: 'FAILED'; failedSubtask?: number; error: string }
);

/** Records the end of a RUNNING host's task; undefined for another task, or a host not running. */
export function hostEnded(host: BatchHostRecord, outcome: HostOutcome): BatchHostRecord | undefined {
  if (host.status !== 'RUNNING' || host.taskId !== outcome.taskId) return undefined;
  const ended: BatchHostRecord = {
    ...withoutOutcome(host),
    status: outcome.status,
    endTime: outcome.endTime,
  };
  if (outcome.status === 'SUCCESSFUL') return ended;
  return {
    ...ended,
    ...(outcome.failedSubtask === undefined ? {} : { failedSubtask: outcome.failedSubtask }),
    error: boundedError(outcome.error),
  };
}

/**
 * How an ended restart task ended for its host; undefined while it runs. A task that was rolled back
 * did not restart the agent (task-lifecycle.ts), so its host failed, at the subtask that failed first.
 */
export function hostOutcomeOf(task: TaskRecord): HostOutcome | undefined {
  if (task.status === 'RUNNING') return undefined;
  const endTime = task.endTime ?? task.startTime;
  if (task.status === 'SUCCESSFUL' && task.operation !== 'ROLLBACK')
    return { taskId: task.id, endTime, status: 'SUCCESSFUL' };
  const failed = task.subtasks.find((subtask) => subtask.status === 'FAILED');
  const error =
    task.status === 'SUCCESSFUL'
      ? 'The restart was rolled back: the agent was started again, not restarted.'
      : (failed?.error ?? 'The restart task failed.');
  return {
    taskId: task.id,
    endTime,
    status: 'FAILED',
    ...(failed ? { failedSubtask: failed.index } : {}),
    error,
  };
}

/** Why a PENDING host does not start: another operation holds it, or the failures crossed the threshold. */
export type NotStartedCause = { busyWithTaskId: number } | 'errorThreshold';

/**
 * Records that a PENDING host will not start; undefined when it is not PENDING, or the threshold it is
 * stopped for is not crossed.
 */
export function hostNotStarted(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  index: number,
  cause: NotStartedCause,
): BatchHostRecord | undefined {
  const host = hosts.find((candidate) => candidate.index === index);
  if (host?.status !== 'PENDING' || batch.status !== 'RUNNING') return undefined;
  if (cause === 'errorThreshold') {
    const counts = countHosts(hosts);
    if (!errorThresholdExceeded(counts, batch.rollout)) return undefined;
    return { ...withoutOutcome(host), status: 'NOT_STARTED', reason: thresholdReason(counts, batch.rollout) };
  }
  return {
    ...withoutOutcome(host),
    status: 'NOT_STARTED',
    reason: busyReason(host.hostId, cause.busyWithTaskId),
    busyWithTaskId: cause.busyWithTaskId,
  };
}

/** Once the threshold is crossed, every PENDING host, NOT_STARTED with the reason; else nothing. */
export function hostsStoppedByThreshold(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
): BatchHostRecord[] {
  return pendingInOrder(hosts).flatMap(
    (host) => hostNotStarted(batch, hosts, host.index, 'errorThreshold') ?? [],
  );
}

/**
 * Ends a RUNNING batch once no host is PENDING or RUNNING: SUCCESSFUL if every host succeeded, else
 * FAILED. Undefined while a host has yet to end, when the batch ended already, or when `hosts` is not
 * every host of the batch.
 */
export function batchOutcome(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  now: Date,
): BatchRecord | undefined {
  if (batch.status !== 'RUNNING' || hosts.length !== batch.hostCount) return undefined;
  if (hosts.some((host) => host.status === 'PENDING' || host.status === 'RUNNING')) return undefined;
  const succeeded = hosts.every((host) => host.status === 'SUCCESSFUL');
  return { ...batch, status: succeeded ? 'SUCCESSFUL' : 'FAILED', endTime: ocpTimestamp(now) };
}

/**
 * Retries a FAILED batch with the same rollout settings: its FAILED, NOT_STARTED and CANCELED hosts go
 * back to PENDING (keeping their task, so a failed one can be resumed); SUCCESSFUL hosts stay as they
 * are. Returns the batch and the hosts that changed.
 */
export function retryBatch(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
): { batch: BatchRecord; hosts: BatchHostRecord[] } {
  if (batch.status !== BATCH_ACTION_STATUS.retry)
    throw new TaskStateInvalid('retry', `batch task ${batch.id}`, batch.status);
  const { endTime: _ended, ...running } = batch;
  return {
    batch: { ...running, status: 'RUNNING', operation: 'RETRY' },
    hosts: hosts.flatMap((host) =>
      host.status === 'FAILED' || host.status === 'NOT_STARTED' || host.status === 'CANCELED'
        ? [{ ...withoutOutcome(host), status: 'PENDING' as const }]
        : [],
    ),
  };
}

/**
 * Cancels a RUNNING batch: no host starts any more, PENDING hosts are CANCELED with the reason, and the
 * batch ends (FAILED) at once if no host is running. The RUNNING hosts are returned for the caller to
 * cancel (their subtask in progress); the batch ends when they have. Asked again, it changes nothing and
 * returns the hosts still running.
 */
export function cancelBatch(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  canceller: string,
  now: Date,
): { batch: BatchRecord; hosts: BatchHostRecord[]; running: BatchHostRecord[] } {
  if (batch.status !== BATCH_ACTION_STATUS.cancel)
    throw new TaskStateInvalid('cancel', `batch task ${batch.id}`, batch.status);
  const reason = `Canceled by ${canceller} at ${ocpTimestamp(now)}, before it started.`;
  const canceled = pendingInOrder(hosts).map(
    (host): BatchHostRecord => ({ ...withoutOutcome(host), status: 'CANCELED', reason }),
  );
  const byIndex = new Map(canceled.map((host) => [host.index, host]));
  const after = hosts.map((host) => byIndex.get(host.index) ?? host);
  const marked: BatchRecord = { ...batch, operation: 'CANCEL' };
  return {
    batch: batchOutcome(marked, after, now) ?? marked,
    hosts: canceled,
    running: after.filter((host) => host.status === 'RUNNING'),
  };
}

/** A batch that may still start hosts: running, and not being cancelled. */
function isRolling(batch: BatchRecord): boolean {
  return batch.status === 'RUNNING' && batch.operation !== 'CANCEL';
}

function pendingInOrder(hosts: readonly BatchHostRecord[]): BatchHostRecord[] {
  return hosts.filter((host) => host.status === 'PENDING').sort((a, b) => a.index - b.index);
}

function withoutOutcome(host: BatchHostRecord): BatchHostRecord {
  const {
    startTime: _start,
    endTime: _end,
    failedSubtask: _subtask,
    error: _error,
    reason: _reason,
    busyWithTaskId: _busy,
    ...kept
  } = host;
  return kept;
}

/** Why a host that the rollout never came to did not start (the run ended early, or was stopped). */
export const ROLLOUT_ENDED_REASON = 'The rollout ended before it started.';

/** How the rollout's execution ended when it ended other than by its last state (Finish batch). */
export interface RolloutExecutionEnd {
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  error?: string;
}

/** Why a host never started when the rollout's execution itself stopped, failed or timed out. */
export function rolloutEndedReason(end: RolloutExecutionEnd): string {
  const how =
    end.status === 'ABORTED'
      ? 'was stopped'
      : end.status === 'TIMED_OUT'
        ? 'timed out'
        : `failed${end.error ? ` (${end.error})` : ''}`;
  return `The rollout's execution ${how} before it started this host.`;
}

/**
 * Once a round's rollout has ended: every host still PENDING, NOT_STARTED with `reason`
 * (ROLLOUT_ENDED_REASON, or rolloutEndedReason when the execution ended other than by its last
 * state). Apply hostsStoppedByThreshold first, so a host the threshold stopped says so. Nothing for a
 * batch that has ended.
 */
export function hostsNeverReached(
  batch: BatchRecord,
  hosts: readonly BatchHostRecord[],
  reason: string = ROLLOUT_ENDED_REASON,
): BatchHostRecord[] {
  if (batch.status !== 'RUNNING') return [];
  return pendingInOrder(hosts).map(
    (host): BatchHostRecord => ({ ...withoutOutcome(host), status: 'NOT_STARTED', reason }),
  );
}
