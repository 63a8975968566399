import type { SubtaskRecord, TaskRecord } from '#core/task';
import { ocpTimestamp } from '#core/time';
import { TASK_LIST_PARTITION, taskKey } from './table-schema.ts';

/**
 * A task as one item of the task table, kept under 1 KB so that each write of it costs one write unit:
 * times as epoch milliseconds (an OCP timestamp is 29 bytes), a subtask's index as its position.
 */
export interface StoredSubtask extends Omit<SubtaskRecord, 'index' | 'startTime' | 'endTime'> {
  startTime?: number;
  endTime?: number;
}

export interface TaskItem extends Omit<TaskRecord, 'subtasks' | 'startTime' | 'endTime' | 'resumedAt'> {
  pk: string;
  sk: string;
  listPk: string;
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
  const { subtasks, startTime, endTime, resumedAt, ...rest } = task;
  return {
    ...taskKey(task.id),
    listPk: TASK_LIST_PARTITION,
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

/** The task an item holds (an item read from the table or a stream image, unmarshalled). */
export function fromTaskItem(item: Record<string, unknown>): TaskRecord {
  const {
    pk: _pk,
    sk: _sk,
    listPk: _listPk,
    subtasks,
    startTime,
    endTime,
    resumedAt,
    version,
    ...rest
  } = item as unknown as TaskItem & { version?: number };
  return {
    ...(rest as Omit<TaskRecord, 'subtasks' | 'startTime' | 'version'>),
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
