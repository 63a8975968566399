import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { AccountPrincipal, AnyPrincipal, Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { TASK_STREAM_MAPPING } from '#store/table-schema';
import { ENV } from '../../functions/catalog.ts';
import { ProjectFunction, WILDCARD_RESOURCE_FINDING } from './lambda-defaults.ts';
import type { TaskStore } from './task-store.ts';

export interface TaskEventsProps {
  readonly store: TaskStore;
  /** AWS accounts allowed to put events on the bus, besides the deploying account (which the product needs). */
  readonly publisherAccounts: readonly string[];
}

/**
 * The product's own event bus (restart requests in; task status changes and rejections out) and
 * publish-task-events, which turns every task change on the task table's stream into events on it.
 */
export class TaskEvents extends Construct {
  readonly bus: EventBus;
  readonly publisher: ProjectFunction;
  /** Where the stream's batches land when publishing them kept failing. */
  readonly failedBatches: Queue;

  constructor(scope: Construct, id: string, props: TaskEventsProps) {
    super(scope, id);
    this.bus = new EventBus(this, 'Bus', {
      description: 'ocp-agent-restart: restart requests in, task status changes and rejections out',
    });
    // A restart request starts work on production hosts: only the listed accounts may send one.
    const accounts = [...new Set([Stack.of(this).account, ...props.publisherAccounts])];
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowListedAccountsToPutEvents',
        principals: accounts.map((account) => new AccountPrincipal(account)),
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
      }),
    );
    this.bus.addToResourcePolicy(
      new PolicyStatement({
        sid: 'DenyOtherAccounts',
        effect: Effect.DENY,
        principals: [new AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringNotEquals: { 'aws:PrincipalAccount': accounts } },
      }),
    );

    this.publisher = new ProjectFunction(this, 'Publisher', { functionId: 'publishTaskEvents' });
    this.grantPublish(this.publisher);
    this.failedBatches = new Queue(this, 'FailedBatches', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedBatches).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the on-failure destination of the task stream’s event source mapping.',
    });
    this.publisher.function.addEventSource(
      new DynamoEventSource(props.store.taskTable, {
        // From the oldest record: a change made before the mapping existed is still published.
        startingPosition: StartingPosition.TRIM_HORIZON,
        ...TASK_STREAM_MAPPING,
        onFailure: new SqsDlq(this.failedBatches),
      }),
    );
    Validations.of(this.publisher).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason:
        'dynamodb:ListStreams, added by the stream event source, lists the account’s streams and takes no stream ARN.',
    });
  }

  /** Lets the function put events on the product's bus and tells it the bus's name. */
  grantPublish(fn: ProjectFunction): void {
    fn.addEnvironment(ENV.eventBusName, this.bus.eventBusName);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['events:PutEvents'], resources: [this.bus.eventBusArn] }),
    );
  }
}
