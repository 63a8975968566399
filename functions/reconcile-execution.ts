import type { EventBridgeEvent } from 'aws-lambda';
import { endedBeforeHandover } from '#core/execution-sweep';
import * as z from '#core/schema';
import { TaskStore } from '#store/task-store';
import { endTask } from '#use-cases/end-task';
import { logger } from './logger.ts';
import { taskTableName } from './runtime-config.ts';

/** The fields of "Step Functions Execution Status Change" the product reads. */
const ExecutionStatusDetail = z.object({
  executionArn: z.string(),
  name: z.string(),
  status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE']),
  /** Epoch milliseconds. */
  stopDate: z.nullish(z.number()),
  input: z.nullish(z.string()),
  error: z.nullish(z.string()),
  cause: z.nullish(z.string()),
});

const ExecutionInput = z.object({
  taskId: z.number().check(z.int(), z.positive()),
  instanceId: z.optional(z.string()),
});

const tasks = new TaskStore(taskTableName());

/**
 * Brings a task's record in line with how its execution ended. This is the failure path of every
 * run — a subtask that fails or times out fails the execution at that state (so that a retry can
 * redrive from it) — and it also repairs what no state recorded: a stopped or timed-out execution.
 * An event that arrives after the task was handed to Step Functions again (a late or repeated event
 * of the run a retry redrives, or of the execution a rollback replaced) is ignored.
 */
export const handler = async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const detail = ExecutionStatusDetail.parse(event.detail);
  if (detail.status === 'RUNNING' || detail.status === 'PENDING_REDRIVE') return;
  const { taskId, instanceId } = ExecutionInput.parse(JSON.parse(detail.input ?? '{}'));
  logger.appendKeys({ taskId, executionArn: detail.executionArn });
  if (await isStale(taskId, detail)) {
    logger.info('Ignoring the end of an execution run the task has moved on from', {
      executionStatus: detail.status,
    });
    return;
  }
  const task = await endTask(
    tasks,
    taskId,
    detail.status === 'SUCCEEDED'
      ? { status: 'SUCCESSFUL' }
      : {
          status: 'FAILED',
          error: errorOf(detail.status, detail.error),
          cause: detail.cause ?? undefined,
          instanceId,
        },
  );
  logger.info('Task reconciled with its execution', {
    executionStatus: detail.status,
    taskStatus: task.status,
  });
};

async function isStale(taskId: number, detail: z.infer<typeof ExecutionStatusDetail>): Promise<boolean> {
  const task = await tasks.getTask(taskId);
  if (task?.status !== 'RUNNING') return false;
  if (task.executor !== detail.executionArn) return true;
  return detail.stopDate != null && endedBeforeHandover(task, new Date(detail.stopDate));
}

function errorOf(
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED',
  error: string | null | undefined,
): string | undefined {
  if (status === 'ABORTED') return 'ExecutionAborted';
  if (status === 'TIMED_OUT') return 'States.Timeout';
  return error ?? undefined;
}
