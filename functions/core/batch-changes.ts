import type { BatchHostRecord, BatchHostStatus, BatchOperation, BatchRecord } from './batch-task.ts';
import type { TaskStatus } from './task.ts';

/** One status change of a batch, or of one of its hosts. */
export interface BatchChange {
  batchId: number;
  /** Present when a host changed. */
  host?: {
    hostId: number;
    index: number;
    status: BatchHostStatus;
    previousStatus?: BatchHostStatus;
    /** The host's own restart task, once started. */
    taskId?: number;
    /** Why the host did not start, or its error. */
    reason?: string;
  };
  /** The batch's status and operation after a batch-level change. */
  status?: TaskStatus;
  operation?: BatchOperation;
  previousStatus?: TaskStatus;
  at: string;
}

/** The batch-level change between two versions of a batch record: created, or status or operation changed. */
export function batchChanges(before: BatchRecord | undefined, after: BatchRecord, at: string): BatchChange[] {
  if (before && before.status === after.status && before.operation === after.operation) return [];
  return [
    {
      batchId: after.id,
      status: after.status,
      operation: after.operation,
      ...(before ? { previousStatus: before.status } : {}),
      at,
    },
  ];
}

/** A host's change between two versions of its record: only when its status changed (not when written first as PENDING). */
export function batchHostChanges(
  before: BatchHostRecord | undefined,
  after: BatchHostRecord,
  at: string,
): BatchChange[] {
  if (before ? before.status === after.status : after.status === 'PENDING') return [];
  const reason = after.reason ?? after.error;
  return [
    {
      batchId: after.batchId,
      host: {
        hostId: after.hostId,
        index: after.index,
        status: after.status,
        ...(before ? { previousStatus: before.status } : {}),
        ...(after.taskId !== undefined ? { taskId: after.taskId } : {}),
        ...(reason ? { reason } : {}),
      },
      at,
    },
  ];
}
