import {
  DescribeExecutionCommand,
  RedriveExecutionCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { ExecutionStatus } from '#core/execution-sweep';
import {
  type ExecutionDescription,
  type ExecutionInput,
  ExecutionNotFound,
  ExecutionNotRedrivable,
  type StepAlreadyEnded,
  type StepCompletion,
  type StepOutcome,
  type Workflow,
} from '#use-cases/ports';
import { errorName } from './error-name.ts';
import { sfn } from './sfn.ts';

/** Errors of SendTaskSuccess/SendTaskFailure for a step that has ended already. */
const STEP_ALREADY_ENDED: ReadonlySet<string> = new Set<StepAlreadyEnded>([
  'TaskTimedOut',
  'TaskDoesNotExist',
  'InvalidToken',
]);

/** The Workflow port over Step Functions: one call per method, SDK error names mapped to the port's. */
export class StepFunctionsWorkflow implements Workflow {
  constructor(private readonly client: SFNClient = sfn) {}

  async startExecution(stateMachineArn: string, name: string, input: ExecutionInput): Promise<void> {
    await this.client.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
  }

  async redrive(executionArn: string): Promise<void> {
    try {
      await this.client.send(new RedriveExecutionCommand({ executionArn }));
    } catch (error) {
      const name = errorName(error);
      if (name === 'ExecutionDoesNotExist') throw new ExecutionNotFound(executionArn, { cause: error });
      if (name === 'ExecutionNotRedrivable') throw new ExecutionNotRedrivable(executionArn, { cause: error });
      throw error;
    }
  }

  async stop(executionArn: string, error: string, cause: string): Promise<void> {
    await this.client.send(new StopExecutionCommand({ executionArn, error, cause }));
  }

  async describe(executionArn: string): Promise<ExecutionDescription | undefined> {
    try {
      const described = await this.client.send(new DescribeExecutionCommand({ executionArn }));
      return {
        status: (described.status ?? 'RUNNING') as ExecutionStatus,
        ...(described.stopDate ? { stopDate: described.stopDate } : {}),
        ...(described.error ? { error: described.error } : {}),
        ...(described.cause ? { cause: described.cause } : {}),
        ...(described.input === undefined ? {} : { input: described.input }),
      };
    } catch (error) {
      if (errorName(error) === 'ExecutionDoesNotExist') return undefined;
      throw error;
    }
  }

  async completeStep(taskToken: string, outcome: StepOutcome): Promise<StepCompletion> {
    try {
      if (outcome.status === 'SUCCEEDED')
        await this.client.send(
          new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(outcome.output) }),
        );
      else
        await this.client.send(
          new SendTaskFailureCommand({ taskToken, error: outcome.error, cause: outcome.cause }),
        );
      return { completed: true };
    } catch (error) {
      const name = errorName(error);
      if (STEP_ALREADY_ENDED.has(name)) return { completed: false, alreadyEnded: name as StepAlreadyEnded };
      throw error;
    }
  }
}
