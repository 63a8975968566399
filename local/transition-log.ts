import type { DynamoDBStreamEvent } from 'aws-lambda';
import { RESTART_SUBTASKS } from '#core/subtasks';
import type { TaskRecord } from '#core/task';
import { type TaskChange, taskChanges } from '#core/task-changes';
import { taskFromStreamImage } from '#store/task-stream';
import type { StreamConsumer } from './dynamodb-stream.ts';

/** A stream consumer that prints each task and subtask transition on one line. */
export function transitionLog(print: (line: string) => void): StreamConsumer {
  return async (event: DynamoDBStreamEvent) => {
    for (const record of event.Records) {
      const after = taskFromStreamImage(record.dynamodb?.NewImage);
      if (!after) continue;
      const before = taskFromStreamImage(record.dynamodb?.OldImage);
      for (const change of taskChanges(before, after, new Date().toISOString()))
        print(describe(change, after));
    }
  };
}

function describe(change: TaskChange, task: TaskRecord): string {
  const prefix = `${clock()} task ${change.taskId} · host ${change.hostId}`;
  if (change.subtask) {
    const { subtask } = change;
    const attempt = subtask.runTime > 1 ? ` (attempt ${subtask.runTime}, ${subtask.operation})` : '';
    const error = subtask.error && subtask.status === 'FAILED' ? ` — ${subtask.error}` : '';
    return `${prefix} · [${subtask.index + 1}/${RESTART_SUBTASKS.length}] ${subtask.name}: ${subtask.status}${attempt}${error}`;
  }
  if (change.previousStatus === undefined) {
    return `${prefix} · ${task.name} created by ${task.creator}: ${change.status}`;
  }
  const operation = change.operation === 'EXECUTE' ? '' : ` (${change.operation})`;
  return `${prefix} · ${task.name}: ${change.previousStatus} → ${change.status}${operation}`;
}

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}
