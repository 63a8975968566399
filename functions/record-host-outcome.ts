import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import type { BatchHostStatus } from '#core/batch-task';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { recordHostOutcome } from '#use-cases/batch-rollout';
import { RecordHostOutcomeEvent } from './batch-step-events.ts';
import { loggedInvocation, logger } from './logger.ts';
import {
  commandOutputLogGroup,
  documentFor,
  hostTableName,
  stateMachineArn,
  taskTableName,
} from './runtime-config.ts';

const ports = {
  tasks: new WorkflowTaskStore(taskTableName()),
  batches: new BatchStore(taskTableName()),
  hosts: new HostRegistry(hostTableName()),
  workflow: new StepFunctionsWorkflow(),
  hostCommands: new SsmHostCommands(),
};

/**
 * "Record host outcome" of the batch state machine: records how the host's restart went, after its
 * health check when one is asked. Throws HostRestartStillRunning while the restart task has not ended,
 * for the state's retry.
 */
export const handler = loggedInvocation(async (event: unknown): Promise<{ status: BatchHostStatus }> => {
  const input = RecordHostOutcomeEvent.parse(event);
  logger.appendKeys({
    batchId: input.batchId,
    round: input.round,
    hostId: input.host.hostId,
    taskId: input.taskId,
  });
  const recorded = await recordHostOutcome(input, {
    ...ports,
    stateMachineArn: stateMachineArn(),
    outputLogGroup: commandOutputLogGroup(),
    agentStatusDocument: documentFor('agentStatus'),
  });
  logger.info('Host outcome recorded', { hostStatus: recorded.status });
  return recorded;
});
