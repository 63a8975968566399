import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import { STATUS_EVENT_GRACE_MS } from '#core/command-outcome';
import { HANDOVER_GRACE_MS } from '#core/execution-sweep';
import * as z from '#core/schema';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { type SweepResult, sweepRunningTasks } from '#use-cases/sweep-running-tasks';
import { loggedInvocation, logger } from './logger.ts';
import { commandOutputLogGroup, taskTableName } from './runtime-config.ts';

/**
 * The scheduled event carries nothing the sweep reads. Local mode's start-up sweep passes
 * `handoversSettledBefore` and `statusEventsDueBefore`: no function of the process that ran before it
 * can still start or redrive an execution, nor receive an event.
 */
const SweepInput = z.nullish(
  z.object({
    handoversSettledBefore: z.optional(z.iso.datetime()),
    statusEventsDueBefore: z.optional(z.iso.datetime()),
  }),
);

const tasks = new WorkflowTaskStore(taskTableName());
const ports = { workflow: new StepFunctionsWorkflow(), hostCommands: new SsmHostCommands() };

/**
 * Scheduled every minute: ends RUNNING tasks whose execution ended without its status event reaching
 * the product, completes subtasks whose command ended without SSM's event, and frees a host lock
 * whose task has ended.
 */
export const handler = loggedInvocation(async (event?: unknown): Promise<SweepResult> => {
  const input = SweepInput.parse(event);
  const result = await sweepRunningTasks(tasks, {
    handoversSettledBefore: input?.handoversSettledBefore
      ? new Date(input.handoversSettledBefore)
      : new Date(Date.now() - HANDOVER_GRACE_MS),
    statusEventsDueBefore: input?.statusEventsDueBefore
      ? new Date(input.statusEventsDueBefore)
      : new Date(Date.now() - STATUS_EVENT_GRACE_MS),
    outputLogGroup: commandOutputLogGroup(),
    ...ports,
  });
  if (result.fixed.length || result.completed.length || result.released.length)
    logger.warn('Repaired what lost status events left unrecorded', { ...result });
  else logger.info('Swept the running tasks', { ...result });
  return result;
});
