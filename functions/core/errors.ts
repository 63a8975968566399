import { REDRIVE_WINDOW_DAYS } from './redrive-window.ts';

/** A failure the caller caused or can act on; mapped to an HTTP status and OCP error code in one place. */
export abstract class DomainError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly ocpCode: number;
  /** The name OCP gives the error code, logged beside it. */
  abstract readonly ocpCodeName: string;
  readonly target?: string;

  constructor(message: string, target?: string) {
    super(message);
    this.name = new.target.name;
    this.target = target;
  }
}

export class NotAuthenticated extends DomainError {
  readonly httpStatus = 401;
  readonly ocpCode = 30000;
  readonly ocpCodeName = 'IAM_USER_NOT_AUTHENTICATED';
  constructor() {
    super(
      'The request has no valid identity: sign in and send the token as "Authorization: Bearer <token>".',
    );
  }
}

export class PermissionDenied extends DomainError {
  readonly httpStatus = 403;
  readonly ocpCode = 30014;
  readonly ocpCodeName = 'IAM_OPERATION_NOT_PERMITTED';
  constructor(required: readonly string[]) {
    super(`The operation is not permitted: it needs the ${required.join(' or ')} permission.`);
  }
}

export class InvalidArgument extends DomainError {
  readonly httpStatus = 400;
  readonly ocpCode = 10001;
  readonly ocpCodeName = 'COMMON_ILLEGAL_ARGUMENT';
}

export class HostNotFound extends DomainError {
  readonly httpStatus = 404;
  readonly ocpCode = 10002;
  readonly ocpCodeName = 'COMMON_NOT_FOUND';
  constructor(hostId: bigint | number) {
    super(`Host ${hostId} does not exist.`, 'hostId');
  }
}

/** Hosts of a batch that do not exist: the batch is refused before any host starts. */
export class HostsNotFound extends DomainError {
  readonly httpStatus = 404;
  readonly ocpCode = 10002;
  readonly ocpCodeName = 'COMMON_NOT_FOUND';
  readonly hostIds: readonly number[];
  constructor(hostIds: readonly number[]) {
    const shown = hostIds.slice(0, 10).join(', ');
    const more = hostIds.length > 10 ? ` and ${hostIds.length - 10} more` : '';
    super(
      hostIds.length === 1 ? `Host ${shown} does not exist.` : `Hosts ${shown}${more} do not exist.`,
      'hostIds',
    );
    this.hostIds = hostIds;
  }
}

export class TaskNotFound extends DomainError {
  readonly httpStatus = 404;
  readonly ocpCode = 20000;
  readonly ocpCodeName = 'TASK_NOT_EXISTS';
  constructor(taskId: bigint | number) {
    super(`Task ${taskId} does not exist.`, 'id');
  }
}

export class HostBusy extends DomainError {
  readonly httpStatus = 409;
  readonly ocpCode = 10009;
  readonly ocpCodeName = 'COMMON_CONFLICT';
  readonly runningTaskId: number;
  constructor(hostId: number, runningTaskId: number) {
    super(`Host ${hostId} already has a running agent operation: task ${runningTaskId}.`, 'hostId');
    this.runningTaskId = runningTaskId;
  }
}

export class RouteNotFound extends DomainError {
  readonly httpStatus = 404;
  readonly ocpCode = 10002;
  readonly ocpCodeName = 'COMMON_NOT_FOUND';
  constructor(method: string, path: string) {
    super(`No API at ${method} ${path}.`);
  }
}

export class SubtaskNotFound extends DomainError {
  readonly httpStatus = 404;
  readonly ocpCode = 10002;
  readonly ocpCodeName = 'COMMON_NOT_FOUND';
  constructor(taskId: bigint | number, subtaskId: bigint | number) {
    super(`Task ${taskId} has no subtask ${subtaskId}.`, 'subtaskId');
  }
}

export class TaskStateInvalid extends DomainError {
  readonly httpStatus = 409;
  readonly ocpCode = 20003;
  readonly ocpCodeName = 'TASK_STATE_INVALID';
  constructor(operation: string, what: string, state: string) {
    super(`This operation (${operation}) is not supported for the ${what} in the ${state} state.`);
  }
}

/** The task's execution is gone or can no longer be redriven, so retry and skip cannot resume it. */
export class TaskNotResumable extends DomainError {
  readonly httpStatus = 409;
  readonly ocpCode = 20003;
  readonly ocpCodeName = 'TASK_STATE_INVALID';
  constructor(taskId: number) {
    super(
      `Task ${taskId} can no longer be resumed: its execution no longer exists or can no longer be redriven (Step Functions redrives an execution only within ${REDRIVE_WINDOW_DAYS} days of its end). Start a new restart of the host instead.`,
    );
  }
}

/** Retry and skip redrive the task's execution, which Step Functions allows only within 14 days of its end. */
export class RedriveWindowClosed extends DomainError {
  readonly httpStatus = 409;
  readonly ocpCode = 20003;
  readonly ocpCodeName = 'TASK_STATE_INVALID';
  constructor(taskId: number, endTime: string) {
    super(
      `Task ${taskId} ended at ${endTime}, more than ${REDRIVE_WINDOW_DAYS} days ago: retry and skip resume its execution, which Step Functions allows only within ${REDRIVE_WINDOW_DAYS} days of its end. Start a new restart of the host instead.`,
    );
  }
}

export class TaskProhibitRollback extends DomainError {
  readonly httpStatus = 400;
  readonly ocpCode = 20004;
  readonly ocpCodeName = 'TASK_PROHIBIT_ROLLBACK';
  constructor(taskId: number) {
    super(`Task ${taskId} prohibits rollback (prohibit_rollback is true).`);
  }
}

/** The host did not answer the agent status command in time, or answered something unreadable. */
export class AgentStatusUnavailable extends DomainError {
  readonly httpStatus = 503;
  readonly ocpCode = 40000;
  readonly ocpCodeName = 'COMPUTE_HOST_AGENT_STATUS_NOT_VALID';
  constructor(reason: string) {
    super(`The agent status could not be read: ${reason}.`, 'hostId');
  }
}

/** SSM cannot reach the host: its instance is unknown to SSM or not in a valid state, or its SSM Agent is offline. */
export class HostUnreachable extends DomainError {
  readonly httpStatus = 503;
  readonly ocpCode = 40000;
  readonly ocpCodeName = 'COMPUTE_HOST_AGENT_STATUS_NOT_VALID';
  constructor(hostId: number, reason: string) {
    super(`Host ${hostId} cannot be reached through SSM: ${reason}.`, 'hostId');
  }
}
