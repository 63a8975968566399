import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { TaskStore } from '#store/task-store';
import { finishBatch } from '#use-cases/batch-rollout';
import { FinishBatchEvent } from './batch-step-events.ts';
import { loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, hostTableName, stateMachineArn, taskTableName } from './runtime-config.ts';

const ports = {
  tasks: new TaskStore(taskTableName()),
  batches: new BatchStore(taskTableName()),
  hosts: new HostRegistry(hostTableName()),
  workflow: new StepFunctionsWorkflow(),
  hostCommands: new SsmHostCommands(),
};

/** "Finish batch" of the batch state machine: ends the batch from its hosts' records. */
export const handler = loggedInvocation(async (event: unknown): Promise<{ status: string }> => {
  const input = FinishBatchEvent.parse(event);
  logger.appendKeys({ batchId: input.batchId, round: input.round });
  const finished = await finishBatch(input, {
    ...ports,
    stateMachineArn: stateMachineArn(),
    outputLogGroup: commandOutputLogGroup(),
  });
  logger.info('Batch finished', { status: finished.status });
  return finished;
});
