import type { EventBridgeEvent } from 'aws-lambda';
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
  input: z.nullish(z.string()),
  error: z.nullish(z.string()),
  cause: z.nullish(z.string()),
});

const ExecutionInput = z.object({ taskId: z.number().check(z.int(), z.positive()) });

const tasks = new TaskStore(taskTableName());

/**
 * Brings a task's record in line with how its execution ended. This is the failure path of every
 * run — a subtask that fails or times out fails the execution at that state (so that a retry can
 * redrive from it) — and it also repairs what no state recorded: a stopped or timed-out execution.
 */
export const handler = async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const detail = ExecutionStatusDetail.parse(event.detail);
  if (detail.status === 'RUNNING' || detail.status === 'PENDING_REDRIVE') return;
  const { taskId } = ExecutionInput.parse(JSON.parse(detail.input ?? '{}'));
  logger.appendKeys({ taskId, executionArn: detail.executionArn });
  const task = await endTask(
    tasks,
    taskId,
    detail.status === 'SUCCEEDED'
      ? { status: 'SUCCESSFUL' }
      : { status: 'FAILED', error: errorOf(detail.status, detail.error), cause: detail.cause ?? undefined },
  );
  logger.info('Task reconciled with its execution', {
    executionStatus: detail.status,
    taskStatus: task.status,
  });
};

function errorOf(
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED',
  error: string | null | undefined,
): string | undefined {
  if (status === 'ABORTED') return 'ExecutionAborted';
  if (status === 'TIMED_OUT') return 'States.Timeout';
  return error ?? undefined;
}
