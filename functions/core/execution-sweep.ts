import type { TaskRecord } from './task.ts';

/** A Step Functions execution status (DescribeExecution). */
export type ExecutionStatus =
  | 'RUNNING'
  | 'PENDING_REDRIVE'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED';

/** What the sweep reads of a task's execution; undefined when the execution does not exist. */
export interface ExecutionView {
  status: ExecutionStatus;
  /** When the execution last ended; absent while it runs. */
  stopDate?: Date;
  error?: string;
  cause?: string;
}

/**
 * The longest a function that writes a task RUNNING may take before its StartExecution or
 * RedriveExecution takes effect: Lambda's maximum timeout, since the write and the call happen in one
 * invocation. A task handed over longer ago than this has its execution in its final state.
 */
export const HANDOVER_GRACE_MS = 15 * 60_000;

/** How to end the task; `executionEndedAt` guards the end against a hand-over made after it. */
export type TaskEnd = ({ status: 'SUCCESSFUL' } | { status: 'FAILED'; error?: string; cause?: string }) & {
  executionEndedAt?: Date;
};

/** What the sweep does with a RUNNING task. */
export type SweepVerdict =
  /** The execution runs (or is about to be redriven): leave the task to it. */
  | { action: 'leave'; executionRunning: boolean }
  /** The execution ended, or never came to be, without the task being ended: end it so. */
  | { action: 'end'; outcome: TaskEnd };

/**
 * When the product last handed the task to Step Functions: its start (StartExecution follows) or
 * its reopening by retry, skip or rollback (RedriveExecution or StartExecution follows).
 */
export function handedOverAt(task: Pick<TaskRecord, 'startTime' | 'resumedAt'>): number {
  return Date.parse(task.resumedAt ?? task.startTime);
}

/**
 * True when an execution's end predates the task's last hand-over: it is the end of the run the
 * task was reopened from (a retry redrives that same execution), not of the run now resumed.
 */
export function endedBeforeHandover(
  task: Pick<TaskRecord, 'startTime' | 'resumedAt'>,
  stopDate: Date | undefined,
): boolean {
  return stopDate !== undefined && stopDate.getTime() < handedOverAt(task);
}

/**
 * Decides whether a RUNNING task's execution ended without the task being ended (its status event
 * lost). Running and PENDING_REDRIVE executions are running. A hand-over not settled yet (made at or
 * after `handoversSettledBefore`) may still be on its way: a missing execution may not have started,
 * and an end from before the hand-over may be about to be redriven, so neither ends the task until
 * the hand-over has settled.
 */
export function sweepVerdict(
  task: Pick<TaskRecord, 'startTime' | 'resumedAt'>,
  execution: ExecutionView | undefined,
  handoversSettledBefore: Date,
): SweepVerdict {
  if (execution?.status === 'RUNNING' || execution?.status === 'PENDING_REDRIVE') {
    return { action: 'leave', executionRunning: true };
  }
  const settled = handedOverAt(task) < handoversSettledBefore.getTime();
  if (!execution) {
    return settled
      ? { action: 'end', outcome: { status: 'FAILED', error: 'ExecutionLost' } }
      : { action: 'leave', executionRunning: false };
  }
  if (endedBeforeHandover(task, execution.stopDate)) {
    return settled
      ? { action: 'end', outcome: { status: 'FAILED', error: 'ResumeLost' } }
      : { action: 'leave', executionRunning: false };
  }
  const executionEndedAt = execution.stopDate ? { executionEndedAt: execution.stopDate } : {};
  switch (execution.status) {
    case 'SUCCEEDED':
      return { action: 'end', outcome: { status: 'SUCCESSFUL', ...executionEndedAt } };
    case 'ABORTED':
      return {
        action: 'end',
        outcome: { status: 'FAILED', error: 'ExecutionAborted', cause: execution.cause, ...executionEndedAt },
      };
    case 'TIMED_OUT':
      return { action: 'end', outcome: { status: 'FAILED', error: 'States.Timeout', ...executionEndedAt } };
    case 'FAILED':
      return {
        action: 'end',
        outcome: { status: 'FAILED', error: execution.error, cause: execution.cause, ...executionEndedAt },
      };
  }
}
