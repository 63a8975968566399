import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { batchOfExecutionName } from '#core/batch-execution';
import { EXECUTION_STATUS_EVENT } from '#core/event-patterns';
import * as z from '#core/schema';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { type FinishBatchEvent as FinishBatchInput, finishBatch } from '#use-cases/batch-rollout';
import { FinishBatchEvent } from './batch-step-events.ts';
import { ExecutionStatusDetail } from './execution-status-event.ts';
import { loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, hostTableName, stateMachineArn, taskTableName } from './runtime-config.ts';

const ports = {
  tasks: new WorkflowTaskStore(taskTableName()),
  batches: new BatchStore(taskTableName()),
  hosts: new HostRegistry(hostTableName()),
  workflow: new StepFunctionsWorkflow(),
  hostCommands: new SsmHostCommands(),
};

const ExecutionEndedEvent = z.object({
  'detail-type': z.literal(EXECUTION_STATUS_EVENT.detailType),
  detail: ExecutionStatusDetail,
});

/**
 * "Finish batch" of the batch state machine: ends the batch from its hosts' records. Also the target
 * of the batch executions' "Execution Status Change" events, so that a batch whose execution was
 * stopped, failed or timed out before its last state is ended all the same (a round's end after its
 * Finish batch state ran changes nothing).
 */
export const handler = loggedInvocation(async (event: unknown): Promise<{ status: string } | undefined> => {
  const input = finishEventOf(event);
  if (!input) return undefined;
  logger.appendKeys({ batchId: input.batchId, round: input.round });
  const finished = await finishBatch(input, {
    ...ports,
    stateMachineArn: stateMachineArn(),
    outputLogGroup: commandOutputLogGroup(),
  });
  logger.info('Batch finished', { status: finished.status, executionEnd: input.executionEnd });
  return finished;
});

function finishEventOf(event: unknown): FinishBatchInput | undefined {
  const ended = ExecutionEndedEvent.safeParse(event);
  if (!ended.success) return FinishBatchEvent.parse(event);
  const { name, status, error } = ended.data.detail;
  const batch = batchOfExecutionName(name);
  if (!batch) {
    logger.warn('Ignoring the end of an execution not named after a batch', { name });
    return undefined;
  }
  if (status === 'RUNNING' || status === 'PENDING_REDRIVE') return undefined;
  if (status === 'SUCCEEDED') return batch;
  return { ...batch, executionEnd: { status, ...(error ? { error } : {}) } };
}
