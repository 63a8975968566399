import { Duration, Validations } from 'aws-cdk-lib';
import { type EventPattern, type IEventBus, Rule, type Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ProjectFunction } from './lambda-defaults.ts';

/** An event pattern as the product's core writes it (EventBridge's JSON keys). */
export interface EventPatternJson {
  readonly source: string[];
  readonly 'detail-type': string[];
  readonly detail?: Record<string, unknown>;
}

export interface EventTriggerProps {
  /** What triggers the function: events matching a pattern (from functions/core/event-patterns.ts) or a schedule. */
  readonly on: { readonly pattern: EventPatternJson } | { readonly schedule: Schedule };
  readonly description: string;
  readonly target: ProjectFunction;
  /** @default the account's default event bus */
  readonly eventBus?: IEventBus;
  /** @default 1 hour */
  readonly maxEventAge?: Duration;
}

/**
 * A rule that invokes a function, for matching events (on the default bus unless another is given)
 * or on a schedule. Events EventBridge cannot deliver, and
 * invocations that still fail after Lambda's retries, land in one encrypted dead-letter queue.
 */
export class EventTrigger extends Construct {
  readonly rule: Rule;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: EventTriggerProps) {
    super(scope, id);
    const maxEventAge = props.maxEventAge ?? Duration.hours(1);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue of the rule target and of the function’s async invocations.',
    });

    this.rule = new Rule(this, 'Rule', {
      description: props.description,
      ...(props.eventBus ? { eventBus: props.eventBus } : {}),
      ...('pattern' in props.on
        ? { eventPattern: toEventPattern(props.on.pattern) }
        : { schedule: props.on.schedule }),
      targets: [
        new LambdaFunction(props.target.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge,
        }),
      ],
    });
    props.target.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
  }
}

/** EventBridge's JSON pattern keys to CDK's EventPattern. */
export function toEventPattern(pattern: EventPatternJson): EventPattern {
  return {
    source: pattern.source,
    detailType: pattern['detail-type'],
    ...(pattern.detail ? { detail: pattern.detail } : {}),
  };
}
