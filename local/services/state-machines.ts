import type { DescribeExecutionOutput } from '@aws-sdk/client-sfn';
import { AwsError, type LocalService } from '#local/local-service';
import type { LocalStepFunctions } from '#local/services/step-functions';

const STATE_MACHINE_ARN = /^arn:aws[a-z-]*:states:[^:]+:[^:]+:stateMachine:[^:]+$/;
const EXECUTION_ARN = /^(arn:aws[a-z-]*:states:[^:]+:[^:]+):execution:([^:]+):[^:]+$/;
const MAP_RUN_ARN = /^(arn:aws[a-z-]*:states:[^:]+:[^:]+):mapRun:([^:]+\/[^:]+):[^:]+$/;

/**
 * One local Step Functions service: the state machines of an account and region, each a
 * {@link LocalStepFunctions}, with the child machines of their Distributed Map states. Each request goes
 * to the machine its ARN names (an execution's, a Map Run's, a task token's execution), as AWS routes it.
 */
export class LocalStateMachines implements LocalService {
  private readonly machines = new Map<string, LocalStepFunctions>();

  add(machine: LocalStepFunctions): void {
    if (this.machines.has(machine.stateMachineArn)) {
      throw new Error(`State machine ${machine.stateMachineArn} is already served`);
    }
    this.machines.set(machine.stateMachineArn, machine);
  }

  /** The machine of a state machine ARN (a Distributed Map's child machine too), if served. */
  find(stateMachineArn: string): LocalStepFunctions | undefined {
    return this.machines.get(stateMachineArn);
  }

  /** Local mode is stopping: every machine keeps its executions as they are (see LocalStepFunctions). */
  shutdown(): void {
    for (const machine of this.topLevelMachines()) machine.shutdown();
  }

  /** Stops every running execution of every machine (test clean-up). */
  async stopAll(): Promise<void> {
    for (const machine of this.topLevelMachines()) await machine.stopAll();
  }

  /** The machines of the definitions served; each runs its Distributed Maps' child machines. */
  private topLevelMachines(): LocalStepFunctions[] {
    return [...this.machines.values()].filter((machine) => !machine.isMapRunChildMachine);
  }

  /** DescribeExecution's answer, once the execution has ended (at once if it has). */
  whenClosed(executionArn: string): Promise<DescribeExecutionOutput> {
    return this.machineOfExecution(executionArn).whenClosed(executionArn);
  }

  async handle(operation: string, input: unknown): Promise<unknown> {
    const fields = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    if (operation === 'ListStateMachines') {
      const stateMachines = this.topLevelMachines().map((machine) => machine.listItem());
      return { stateMachines };
    }
    return this.ownerOf(operation, fields).answer(operation, input);
  }

  /** Which machine answers a request, from the ARN (or task token) it carries. */
  private ownerOf(operation: string, fields: Record<string, unknown>): LocalStepFunctions {
    if (typeof fields.mapRunArn === 'string') return this.machineOfMapRun(fields.mapRunArn);
    if (typeof fields.executionArn === 'string') return this.machineOfExecution(fields.executionArn);
    if (typeof fields.taskToken === 'string') {
      const executionArn = executionOfToken(fields.taskToken);
      if (executionArn === undefined) {
        throw new AwsError('InvalidToken', 'Invalid Token: the task token is malformed');
      }
      const owner = this.ownerOfExecution(executionArn);
      if (!owner) {
        throw new AwsError('TaskDoesNotExist', 'Task Does Not Exist: the execution of this token is unknown');
      }
      return owner;
    }
    if (typeof fields.stateMachineArn === 'string') return this.machineOf(fields.stateMachineArn);
    // Let any machine reject the request for what it lacks.
    const first = this.machines.values().next().value;
    if (!first) throw new AwsError('InvalidArn', `No state machine is served for ${operation}`);
    return first;
  }

  private machineOf(stateMachineArn: string): LocalStepFunctions {
    if (!STATE_MACHINE_ARN.test(stateMachineArn)) {
      throw new AwsError('InvalidArn', `Invalid Arn: '${stateMachineArn}'`);
    }
    const machine = this.machines.get(stateMachineArn);
    if (!machine) {
      throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    }
    return machine;
  }

  private machineOfExecution(executionArn: string): LocalStepFunctions {
    if (!EXECUTION_ARN.test(executionArn)) throw new AwsError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    const machine = this.ownerOfExecution(executionArn);
    if (!machine) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return machine;
  }

  private ownerOfExecution(executionArn: string): LocalStepFunctions | undefined {
    const parts = EXECUTION_ARN.exec(executionArn);
    return parts ? this.machines.get(`${parts[1]}:stateMachine:${parts[2]}`) : undefined;
  }

  private machineOfMapRun(mapRunArn: string): LocalStepFunctions {
    const parts = MAP_RUN_ARN.exec(mapRunArn);
    if (!parts) throw new AwsError('InvalidArn', `Invalid Arn: '${mapRunArn}'`);
    const machine = this.machines.get(`${parts[1]}:stateMachine:${parts[2]}`);
    if (!machine) throw new AwsError('ResourceNotFound', `Resource Not Found: '${mapRunArn}'`);
    return machine;
  }
}

/** The execution a task token was minted for (see LocalStepFunctions' tokens). */
export function executionOfToken(taskToken: string): string | undefined {
  try {
    const decoded = JSON.parse(Buffer.from(taskToken, 'base64url').toString('utf8')) as { e?: unknown };
    return typeof decoded.e === 'string' ? decoded.e : undefined;
  } catch {
    return undefined;
  }
}
