import type { EventBridgeEvent } from 'aws-lambda';
import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import type { CommandStatusDetail } from '#core/event-patterns';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { recordCommandOutcome } from '#use-cases/record-command-outcome';
import { loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, taskTableName } from './runtime-config.ts';

const tasks = new WorkflowTaskStore(taskTableName());
const workflow = new StepFunctionsWorkflow();
const hostCommands = new SsmHostCommands();

/**
 * SSM's command status-change event for one of the product's documents: records the attempt's
 * outcome and output on its subtask, then completes the waiting workflow step with its task token.
 * Safe to receive twice: a repeated event re-sends the same completion, which Step Functions ignores.
 */
export const handler = loggedInvocation(
  async (event: EventBridgeEvent<string, CommandStatusDetail>): Promise<void> => {
    const { 'command-id': commandId, 'instance-id': instanceId } = event.detail;
    const invocation = await hostCommands.invocation(commandId, instanceId);
    if (!invocation) {
      logger.warn('SSM has no invocation for the event', { commandId, instanceId });
      return;
    }
    await recordCommandOutcome(tasks, invocation, { workflow, outputLogGroup: commandOutputLogGroup() });
  },
);
