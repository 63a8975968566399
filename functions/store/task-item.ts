import type { SubtaskRecord, TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import { listPartitionOf, taskKey, taskListEntryKey } from './table-schema.ts';

/**
 * A task as items of the task table. The task item (sk TASK) holds the whole task and is what every
 * transition rewrites: kept under 1 KB so that a write costs one write unit — times as epoch
 * milliseconds (an OCP timestamp is 29 bytes), a subtask's index as its position — and in no index
 * (its host id is stored as `host`, not under the byHost key `hostId`), as an index would bill each
 * write again. Its list entry (sk LIST) is the copy the listing indexes read: written with the task
 * whenever the task's status changes, so exact for an ended task; a RUNNING task is read again.
 */
export interface StoredSubtask extends Omit<SubtaskRecord, 'index' | 'startTime' | 'endTime'> {
  startTime?: number;
  endTime?: number;
}

export interface TaskItem
  extends Omit<TaskRecord, 'hostId' | 'subtasks' | 'startTime' | 'endTime' | 'resumedAt'> {
  pk: string;
  sk: string;
  host: number;
  startTime: number;
  endTime?: number;
  resumedAt?: number;
  subtasks: StoredSubtask[];
}

function toMillis(time: string | undefined): number | undefined {
  if (time === undefined) return undefined;
  const millis = Date.parse(time);
  if (Number.isNaN(millis)) throw new Error(`Not a timestamp: ${time}`);
  return millis;
}
/** Items written before times were stored as numbers hold OCP timestamps already. */
const toTimestamp = (time: unknown) =>
  time === undefined ? undefined : typeof time === 'string' ? time : ocpTimestamp(new Date(Number(time)));

export function toTaskItem(task: TaskRecord): TaskItem {
  const { hostId, subtasks, startTime, endTime, resumedAt, ...rest } = task;
  return {
    ...taskKey(task.id),
    host: hostId,
    ...rest,
    startTime: Date.parse(startTime),
    ...optional('endTime', toMillis(endTime)),
    ...optional('resumedAt', toMillis(resumedAt)),
    subtasks: subtasks.map(({ index: _index, startTime, endTime, ...subtask }) => ({
      ...subtask,
      ...optional('startTime', toMillis(startTime)),
      ...optional('endTime', toMillis(endTime)),
    })),
  };
}

/** The task's list entry: a copy of it under the listing indexes' keys. */
export function toListEntry(task: TaskRecord) {
  const { host: _host, ...item } = toTaskItem(task);
  return {
    ...item,
    ...taskListEntryKey(task.id),
    listPk: listPartitionOf(task.startTime),
    hostId: task.hostId,
  };
}

/**
 * The task an item holds: a task item or list entry read from the table or a stream image,
 * unmarshalled (a task item written before list entries existed is its own entry, under hostId).
 */
export function fromTaskItem(item: Record<string, unknown>): TaskRecord {
  const {
    pk: _pk,
    sk: _sk,
    listPk: _listPk,
    host,
    hostId,
    subtasks,
    startTime,
    endTime,
    resumedAt,
    version,
    ...rest
  } = item as unknown as TaskItem & { version?: number; hostId?: number; listPk?: string };
  return {
    ...(rest as Omit<TaskRecord, 'hostId' | 'subtasks' | 'startTime' | 'version'>),
    hostId: Number(host ?? hostId),
    // An item written before versions were kept counts as version 0.
    version: version ?? 0,
    startTime: toTimestamp(startTime)!,
    ...optional('endTime', toTimestamp(endTime)),
    ...optional('resumedAt', toTimestamp(resumedAt)),
    subtasks: subtasks.map((stored, index) => {
      // Items written before attempts were kept apart may still carry their handles.
      const {
        startTime,
        endTime,
        taskToken: _t,
        commandId: _c,
        ...subtask
      } = stored as StoredSubtask & {
        taskToken?: string;
        commandId?: string;
        index?: number;
      };
      return {
        ...subtask,
        index,
        ...optional('startTime', toTimestamp(startTime)),
        ...optional('endTime', toTimestamp(endTime)),
      } as SubtaskRecord;
    }),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
