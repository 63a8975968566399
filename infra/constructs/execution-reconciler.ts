import { Construct } from 'constructs';
import { executionEndedPattern } from '#core/event-patterns';
import type { AgentCommands } from './agent-commands.ts';
import { EventTrigger } from './event-trigger.ts';
import { ProjectFunction } from './lambda-defaults.ts';
import type { RestartWorkflow } from './restart-workflow.ts';
import type { TaskStore } from './task-store.ts';

export interface ExecutionReconcilerProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly workflow: RestartWorkflow;
}

/**
 * Ends a task as its execution ended (failed, timed out, stopped): the reconcile-execution function,
 * triggered by Step Functions' execution status events for the restart state machine.
 */
export class ExecutionReconciler extends Construct {
  readonly handler: ProjectFunction;
  readonly trigger: EventTrigger;

  constructor(scope: Construct, id: string, props: ExecutionReconcilerProps) {
    super(scope, id);
    this.handler = new ProjectFunction(this, 'Handler', { functionId: 'reconcileExecution' });
    props.store.grantTaskTable(this.handler);
    props.commands.grantCancelCommands(this.handler);

    this.trigger = new EventTrigger(this, 'Trigger', {
      description: 'An execution of the ocp-agent-restart workflow ended',
      pattern: executionEndedPattern(props.workflow.stateMachine.stateMachineArn),
      target: this.handler,
    });
  }
}
