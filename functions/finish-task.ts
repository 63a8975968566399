import { SsmHostCommands } from '#aws/ssm-host-commands';
import { StepFunctionsWorkflow } from '#aws/step-functions-workflow';
import * as z from '#core/schema';
import { WorkflowTaskStore } from '#store/workflow-task-store';
import { endTask } from '#use-cases/end-task';
import { appendTaskKeys, loggedInvocation, logger } from './logger.ts';
import { taskTableName } from './runtime-config.ts';

const FinishTaskInput = z.object({ taskId: z.number().check(z.int(), z.positive()) });

const tasks = new WorkflowTaskStore(taskTableName());
const ports = { workflow: new StepFunctionsWorkflow(), hostCommands: new SsmHostCommands() };

/** Last state of a successful run: the task is SUCCESSFUL and its host's lock released. */
export const handler = loggedInvocation(async (event: unknown): Promise<{ status: string }> => {
  const { taskId } = FinishTaskInput.parse(event);
  appendTaskKeys({ taskId });
  const task = await endTask(tasks, taskId, { status: 'SUCCESSFUL' }, ports);
  logger.info('Task finished', { status: task.status });
  return { status: task.status };
});
