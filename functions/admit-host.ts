import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { BatchStore } from '#store/batch-store';
import { HostRegistry } from '#store/host-registry';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { type Admission, admitHost } from '#use-cases/batch-rollout';
import { AdmitHostEvent } from './batch-step-events.ts';
import { loggedInvocation, logger } from './logger.ts';
import { hostTableName, stateMachineArn, taskTableName } from './runtime-config.ts';

const deps = {
  tasks: new WorkflowTaskStore(taskTableName()),
  batches: new BatchStore(taskTableName()),
  hosts: new HostRegistry(hostTableName()),
  workflow: new StepFunctionsWorkflow(),
  hostCommands: new SsmHostCommands(),
};

/**
 * "Admit host" of the batch state machine: starts the host's restart task, or records why it does not
 * start. Always answers the four fields the state's ResultSelector reads.
 */
export const handler = loggedInvocation(async (event: unknown): Promise<Admission> => {
  const input = AdmitHostEvent.parse(event);
  logger.appendKeys({ batchId: input.batchId, round: input.round, hostId: input.host.hostId });
  const admission = await admitHost(input, { ...deps, stateMachineArn: stateMachineArn() });
  logger.info('Host admission decided', { admitted: admission.admitted, taskId: admission.taskId });
  return admission;
});
