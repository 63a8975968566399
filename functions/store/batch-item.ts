import type { BatchHostRecord, BatchRecord } from '#core/batch-task';
import { ocpTimestamp } from '#core/time';
import { batchHostKey, batchKey, listPartitionOf, taskListEntryKey } from './table-schema.ts';

/**
 * A batch restart as items of the task table, in the batch's partition (pk TASK#<batchId>): the batch
 * item (sk BATCH), one item per host (sk HOST#<index>), and the batch's list entry (sk LIST), which
 * the listing reads beside the tasks' (byCreation index only: it has no `hostId`, so no host lists
 * it). Times are epoch milliseconds, as in a task item. Every item is small whatever the batch's size:
 * the hosts are items of their own, so the batch item does not grow with them.
 */

/** What marks a list entry as a batch's (a task's entry has no `kind`). */
export const BATCH_ENTRY_KIND = 'BATCH';

type Stored<T, K extends keyof T> = Omit<T, K> & { [P in K]?: number };

export function toBatchItem(batch: BatchRecord) {
  return { ...batchKey(batch.id), ...withMillis(batch) };
}

/** The batch's list entry: a copy of the batch under the byCreation index's keys. */
export function toBatchListEntry(batch: BatchRecord) {
  return {
    ...withMillis(batch),
    ...taskListEntryKey(batch.id),
    listPk: listPartitionOf(batch.startTime),
    kind: BATCH_ENTRY_KIND,
  };
}

/** True for a batch's list entry (unmarshalled). */
export function isBatchListEntry(item: Record<string, unknown>): boolean {
  return item.kind === BATCH_ENTRY_KIND;
}

/** The batch a batch item or its list entry holds (unmarshalled). */
export function fromBatchItem(item: Record<string, unknown>): BatchRecord {
  const {
    pk: _pk,
    sk: _sk,
    listPk: _listPk,
    kind: _kind,
    startTime,
    endTime,
    ...rest
  } = item as Stored<BatchRecord, 'startTime' | 'endTime'> & Record<string, unknown>;
  return {
    ...(rest as Omit<BatchRecord, 'startTime' | 'endTime'>),
    startTime: ocpTimestamp(new Date(Number(startTime))),
    ...(endTime === undefined ? {} : { endTime: ocpTimestamp(new Date(Number(endTime))) }),
  };
}

/** A host of a batch as its item: its host id as `host`, so that no index takes the item. */
export function toBatchHostItem(host: BatchHostRecord) {
  const { hostId, ...rest } = host;
  return { ...batchHostKey(host.batchId, host.index), host: hostId, ...withMillis(rest) };
}

export function fromBatchHostItem(item: Record<string, unknown>): BatchHostRecord {
  const {
    pk: _pk,
    sk: _sk,
    host,
    startTime,
    endTime,
    ...rest
  } = item as Stored<Omit<BatchHostRecord, 'hostId'>, 'startTime' | 'endTime'> & {
    pk: string;
    sk: string;
    host: number;
  };
  return {
    ...(rest as Omit<BatchHostRecord, 'hostId' | 'startTime' | 'endTime'>),
    hostId: Number(host),
    ...(startTime === undefined ? {} : { startTime: ocpTimestamp(new Date(Number(startTime))) }),
    ...(endTime === undefined ? {} : { endTime: ocpTimestamp(new Date(Number(endTime))) }),
  };
}

function withMillis<T extends { startTime?: string; endTime?: string }>(record: T) {
  const { startTime, endTime, ...rest } = record;
  return {
    ...rest,
    ...(startTime === undefined ? {} : { startTime: toMillis(startTime) }),
    ...(endTime === undefined ? {} : { endTime: toMillis(endTime) }),
  };
}

function toMillis(time: string): number {
  const millis = Date.parse(time);
  if (Number.isNaN(millis)) throw new Error(`Not a timestamp: ${time}`);
  return millis;
}
