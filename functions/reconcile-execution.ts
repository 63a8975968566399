import type { EventBridgeEvent } from 'aws-lambda';
import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import * as z from '#core/schema';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { endTask } from '#use-cases/end-task';
import { ExecutionStatusDetail } from './execution-status-event.ts';
import { appendTaskKeys, loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, taskTableName } from './runtime-config.ts';

const ExecutionInput = z.object({
  taskId: z.number().check(z.int(), z.positive()),
  instanceId: z.optional(z.string()),
});

const tasks = new WorkflowTaskStore(taskTableName());
const ports = { workflow: new StepFunctionsWorkflow(), hostCommands: new SsmHostCommands() };

/**
 * Brings a task's record in line with how its execution ended. This is the failure path of every
 * run — a subtask that fails or times out fails the execution at that state (so that a retry can
 * redrive from it) — and it also repairs what no state recorded: a stopped or timed-out execution.
 * An event that arrives after the task was handed to Step Functions again (a late or repeated event
 * of the run a retry redrives, or of the execution a rollback replaced) changes nothing. A subtask
 * whose state timed out although its command had succeeded is recorded so and the run resumed.
 */
export const handler = loggedInvocation(async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const detail = ExecutionStatusDetail.parse(event.detail);
  if (detail.status === 'RUNNING' || detail.status === 'PENDING_REDRIVE') return;
  const { taskId, instanceId } = ExecutionInput.parse(JSON.parse(detail.input ?? '{}'));
  appendTaskKeys({ taskId });
  logger.appendKeys({ executionArn: detail.executionArn });
  if (await replacedExecution(taskId, detail.executionArn)) {
    logger.info('Ignoring the end of an execution a rollback replaced', { executionStatus: detail.status });
    return;
  }
  const executionEndedAt = detail.stopDate == null ? {} : { executionEndedAt: new Date(detail.stopDate) };
  const task = await endTask(
    tasks,
    taskId,
    detail.status === 'SUCCEEDED'
      ? { status: 'SUCCESSFUL', ...executionEndedAt }
      : {
          status: 'FAILED',
          error: errorOf(detail.status, detail.error),
          cause: detail.cause ?? undefined,
          instanceId,
          ...executionEndedAt,
        },
    { ...ports, outputLogGroup: commandOutputLogGroup() },
  );
  logger.info('Task reconciled with its execution', {
    executionStatus: detail.status,
    taskStatus: task.status,
  });
});

/** True when the task now runs in another execution (a rollback's): this one's end is not the task's. */
async function replacedExecution(taskId: number, executionArn: string): Promise<boolean> {
  const task = await tasks.getTask(taskId);
  return task?.status === 'RUNNING' && task.executor !== executionArn;
}

function errorOf(
  status: 'FAILED' | 'TIMED_OUT' | 'ABORTED',
  error: string | null | undefined,
): string | undefined {
  if (status === 'ABORTED') return 'ExecutionAborted';
  if (status === 'TIMED_OUT') return 'States.Timeout';
  return error ?? undefined;
}
