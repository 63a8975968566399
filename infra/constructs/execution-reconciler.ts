import { Duration } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Construct } from 'constructs';
import { executionEndedPattern } from '#core/event-patterns';
import type { AgentCommands } from './agent-commands.ts';
import { EventTrigger } from './event-trigger.ts';
import { ProjectFunction } from './lambda-defaults.ts';
import type { RestartWorkflow } from './restart-workflow.ts';
import type { TaskStore } from './task-store.ts';

/**
 * How often the sweep looks for what lost status events left unrecorded: a lost event costs at most
 * this (EventBridge's shortest rate), plus the sweep's own run.
 */
export const SWEEP_INTERVAL = Duration.minutes(1);

export interface ExecutionReconcilerProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly workflow: RestartWorkflow;
}

/**
 * Keeps task records in line with their executions: reconcile-execution ends a task as its
 * execution ended (Step Functions' status events for the restart state machine), and sweep-tasks,
 * every minute, visits the tasks that hold a host lock (the running ones, not the history): it ends
 * those whose execution's event never arrived and completes subtasks whose SSM event never arrived
 * (both kinds of event are best effort), and frees a lock whose task has ended.
 */
export class ExecutionReconciler extends Construct {
  readonly handler: ProjectFunction;
  readonly trigger: EventTrigger;
  readonly sweeper: ProjectFunction;
  readonly sweepSchedule: EventTrigger;

  constructor(scope: Construct, id: string, props: ExecutionReconcilerProps) {
    super(scope, id);
    const { store, commands, workflow } = props;

    this.handler = new ProjectFunction(this, 'Handler', { functionId: 'reconcileExecution' });
    store.grantTaskTable(this.handler);
    commands.grantCancelCommands(this.handler);
    commands.grantDiagnoseCommands(this.handler);
    commands.useOutputLogGroup(this.handler);
    workflow.grantRedriveExecutions(this.handler);
    workflow.grantTaskResponse(this.handler);
    this.trigger = new EventTrigger(this, 'Trigger', {
      description: 'An execution of the ocp-agent-restart workflow ended',
      on: { pattern: executionEndedPattern(workflow.stateMachine.stateMachineArn) },
      target: this.handler,
    });

    this.sweeper = new ProjectFunction(this, 'Sweeper', { functionId: 'sweepTasks' });
    store.grantTaskTable(this.sweeper);
    store.grantLockSweep(this.sweeper);
    workflow.grantDescribeExecutions(this.sweeper, { redrive: true });
    workflow.grantTaskResponse(this.sweeper);
    commands.grantCancelCommands(this.sweeper);
    commands.grantDiagnoseCommands(this.sweeper);
    commands.useOutputLogGroup(this.sweeper);
    this.sweepSchedule = new EventTrigger(this, 'SweepSchedule', {
      description: 'Records what lost status events left unrecorded in RUNNING ocp-agent-restart tasks',
      on: { schedule: Schedule.rate(SWEEP_INTERVAL) },
      target: this.sweeper,
      maxEventAge: SWEEP_INTERVAL,
    });
  }
}
