/**
 * EventBridge patterns of the product: the stack's rules and local mode's bus both use these.
 */

/** SSM's statuses of a command invocation that will not change again. */
export const TERMINAL_COMMAND_STATUSES = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Delivery Timed Out',
  'Undeliverable',
  'Terminated',
] as const;

export const COMMAND_STATUS_EVENT = {
  source: 'aws.ssm',
  detailType: 'EC2 Command Invocation Status-change Notification',
} as const;

/** SSM's notification that a command of one of the product's documents ended on a host. */
export function commandFinishedPattern(documentNames: readonly string[]) {
  return {
    source: [COMMAND_STATUS_EVENT.source],
    'detail-type': [COMMAND_STATUS_EVENT.detailType],
    detail: {
      'document-name': [...documentNames],
      status: [...TERMINAL_COMMAND_STATUSES],
    },
  };
}

/** The detail of SSM's command invocation status-change event (the fields the product reads). */
export interface CommandStatusDetail {
  'command-id': string;
  'instance-id': string;
  'document-name': string;
  status: string;
  'requested-date-time'?: string;
}

export const EXECUTION_STATUS_EVENT = {
  source: 'aws.states',
  detailType: 'Step Functions Execution Status Change',
} as const;

/** Step Functions' notification that an execution of the restart state machine ended. */
export function executionEndedPattern(stateMachineArn: string) {
  return {
    source: [EXECUTION_STATUS_EVENT.source],
    'detail-type': [EXECUTION_STATUS_EVENT.detailType],
    detail: {
      stateMachineArn: [stateMachineArn],
      status: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'],
    },
  };
}

/** Events the product accepts and publishes on its own bus. */
export const RESTART_REQUESTED_EVENT = {
  source: 'ocp.agent',
  detailType: 'OCP Agent Restart Requested',
} as const;
export const PRODUCT_EVENT_SOURCE = 'ocp.agent.restart';
export const RESTART_REJECTED_DETAIL_TYPE = 'OCP Agent Restart Rejected';
export const TASK_STATUS_CHANGE_DETAIL_TYPE = 'OCP Agent Task Status Change';
export const BATCH_STATUS_CHANGE_DETAIL_TYPE = 'OCP Agent Batch Status Change';

/** The idempotency key of a restart requested by an event: its id, so a repeated delivery starts nothing. */
export function restartEventKey(eventId: string): string {
  return `event:${eventId}`;
}

/** The product's refusals of restart requests (rejected or skipped), with the request's event id. */
export function restartRejectedPattern() {
  return { source: [PRODUCT_EVENT_SOURCE], 'detail-type': [RESTART_REJECTED_DETAIL_TYPE] };
}

/** A request to restart a host's agent, sent by monitoring or automation to the product's bus. */
export function restartRequestedPattern() {
  return { source: [RESTART_REQUESTED_EVENT.source], 'detail-type': [RESTART_REQUESTED_EVENT.detailType] };
}

/** Every status change of every task, as the product publishes it: route it to SNS, chat or an audit log. */
export function taskStatusChangePattern() {
  return { source: [PRODUCT_EVENT_SOURCE], 'detail-type': [TASK_STATUS_CHANGE_DETAIL_TYPE] };
}

/** Every status change of every fleet batch and of its hosts, as the product publishes it. */
export function batchStatusChangePattern() {
  return { source: [PRODUCT_EVENT_SOURCE], 'detail-type': [BATCH_STATUS_CHANGE_DETAIL_TYPE] };
}
