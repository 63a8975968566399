import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnSchedule } from 'aws-cdk-lib/aws-scheduler';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { restartRequestedPattern } from '#core/event-patterns';
import { describeSchedule, SCHEDULER_RUN_ID, scheduledRestartInput } from '#core/scheduled-restart';
import { ENV } from '../../functions/catalog.ts';
import type { RestartSchedule } from '../settings.ts';
import type { BatchRollout } from './batch-rollout.ts';
import { EventTrigger } from './event-trigger.ts';
import { ProjectFunction } from './lambda-defaults.ts';
import type { RestartWorkflow } from './restart-workflow.ts';
import type { TaskEvents } from './task-events.ts';
import type { TaskStore } from './task-store.ts';

export interface RestartTriggersProps {
  readonly store: TaskStore;
  readonly workflow: RestartWorkflow;
  /** The fleet rollout a fleet's event and a schedule run start. */
  readonly rollout: BatchRollout;
  readonly events: TaskEvents;
  /** Restarts on a schedule. @default none */
  readonly schedules?: readonly RestartSchedule[];
}

/**
 * Restarts that no person asks for through the API: "OCP Agent Restart Requested" events on the
 * product's bus (one host's restart, or a fleet's batch) and the deployment's schedules (a batch per
 * run), both handled by restart-trigger. Requests it refuses are kept, with their reason, in the
 * rejected-requests queue.
 */
export class RestartTriggers extends Construct {
  readonly handler: ProjectFunction;
  readonly trigger: EventTrigger;
  readonly rejectedRequests: Queue;
  readonly schedules: CfnSchedule[] = [];
  /** The role EventBridge Scheduler invokes restart-trigger with (only when there are schedules). */
  readonly schedulerRole?: Role;

  constructor(scope: Construct, id: string, props: RestartTriggersProps) {
    super(scope, id);
    const { store, workflow, rollout, events } = props;

    this.handler = new ProjectFunction(this, 'Handler', { functionId: 'restartTrigger' });
    store.grantTaskTable(this.handler);
    store.grantHostLookup(this.handler);
    workflow.grantStart(this.handler);
    // A fleet's batch: its hosts' items written and looked up many at once, its execution started.
    store.grantBulkTaskItems(this.handler);
    store.grantHostBulkLookup(this.handler);
    rollout.grantStart(this.handler);
    events.grantPublish(this.handler);

    this.rejectedRequests = new Queue(this, 'RejectedRequests', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.rejectedRequests).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'Operators read refused restart requests here; each message is the final record of one, nothing redrives it.',
    });
    this.handler.addEnvironment(ENV.rejectedQueueUrl, this.rejectedRequests.queueUrl);
    this.handler.addToRolePolicy(
      new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.rejectedRequests.queueArn] }),
    );

    this.trigger = new EventTrigger(this, 'Trigger', {
      description: 'Someone asked, through the product’s bus, to restart a host’s OCP agent',
      eventBus: events.bus,
      on: { pattern: restartRequestedPattern() },
      target: this.handler,
    });

    const schedules = props.schedules ?? [];
    if (schedules.length === 0) return;
    const role = new Role(this, 'SchedulerRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: 'Lets EventBridge Scheduler invoke restart-trigger',
    });
    role.addToPolicy(
      new PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.handler.functionArn] }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [this.trigger.deadLetterQueue.queueArn],
      }),
    );
    this.schedulerRole = role;
    for (const schedule of schedules) {
      this.schedules.push(
        new CfnSchedule(this, `${schedule.name}Schedule`, {
          description: describeSchedule(schedule.name, schedule.hostIds),
          scheduleExpression: schedule.expression,
          ...(schedule.timeZone ? { scheduleExpressionTimezone: schedule.timeZone } : {}),
          flexibleTimeWindow: { mode: 'OFF' },
          state: 'ENABLED',
          target: {
            arn: this.handler.functionArn,
            roleArn: role.roleArn,
            // Scheduler fills in each run's id: the idempotency key of the run's batch.
            input: JSON.stringify(
              scheduledRestartInput(
                [...schedule.hostIds],
                SCHEDULER_RUN_ID,
                schedule.name,
                schedule.reason,
                schedule.rollout,
              ),
            ),
            retryPolicy: { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 },
            deadLetterConfig: { arn: this.trigger.deadLetterQueue.queueArn },
          },
        }),
      );
    }
  }
}
