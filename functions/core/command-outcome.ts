import { boundedError } from './task-limits.ts';

const TAIL_LINES = 5;

/** One command invocation as GetCommandInvocation reports it: the fields the product reads. */
export interface CommandInvocation {
  commandId: string;
  instanceId: string;
  comment?: string;
  /** GetCommandInvocation's Status (Pending, InProgress, Delayed, Success, Failed, TimedOut, Cancelled, Cancelling). */
  status: string;
  statusDetails?: string;
  /** -1 until the script has exited. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** When the script ended (GetCommandInvocation's ExecutionEndDateTime, ISO 8601); absent if it never ran. */
  endedAt?: string;
}

/**
 * How long after a command ends its status event may still be on its way (SSM → EventBridge → the
 * callback; seconds normally, longer when the callback is throttled or retried). The sweep records a
 * command's outcome itself only once it ended longer ago than this, so that it does not race the event.
 */
export const STATUS_EVENT_GRACE_MS = 60_000;

/**
 * True when the invocation ended before `dueBefore` (or ended without running, so without an end
 * time): its status event, had it come, would have been handled by now.
 */
export function statusEventOverdue(
  invocation: Pick<CommandInvocation, 'status' | 'statusDetails' | 'endedAt'>,
  dueBefore: Date,
): boolean {
  if (!hasEnded(invocation)) return false;
  const endedAt = Date.parse(invocation.endedAt ?? '');
  return Number.isNaN(endedAt) || endedAt <= dueBefore.getTime();
}

/** A managed instance's PingStatus (DescribeInstanceInformation), or NotRegistered when SSM does not know it. */
export type InstancePing = 'Online' | 'ConnectionLost' | 'Inactive' | 'NotRegistered';

/** Where an invocation stands: not on the host yet, running there, or ended for good. */
export type CommandProgress = 'undelivered' | 'running' | 'ended';

/** Statuses (or StatusDetails) of a command the host never received; SSM may spell details with spaces. */
const UNDELIVERED = new Set(['Pending', 'Delayed', 'DeliveryTimedOut', 'Undeliverable']);
const ENDED_STATUSES = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);
const ENDED_DETAILS = new Set(['DeliveryTimedOut', 'Undeliverable', 'Terminated']);

/** Where the invocation stands, from its Status and StatusDetails. */
export function commandProgress(
  invocation: Pick<CommandInvocation, 'status' | 'statusDetails'>,
): CommandProgress {
  if (UNDELIVERED.has(invocation.status) || UNDELIVERED.has(normalized(invocation.statusDetails)))
    return 'undelivered';
  return hasEnded(invocation) ? 'ended' : 'running';
}

/** True once the invocation will not change again: its outcome can be recorded. */
export function hasEnded(invocation: Pick<CommandInvocation, 'status' | 'statusDetails'>): boolean {
  return ENDED_STATUSES.has(invocation.status) || ENDED_DETAILS.has(normalized(invocation.statusDetails));
}

/**
 * True when a subtask whose state timed out had in fact succeeded on the host (only its status event
 * was missing): it is recorded SUCCESSFUL and its workflow resumed past it rather than failed. Not
 * for a subtask an operator is cancelling.
 */
export function resumesAfterTimeout(
  subtask: { status: string },
  invocation: Pick<CommandInvocation, 'status'> | undefined,
): boolean {
  return subtask.status === 'RUNNING' && invocation?.status === 'Success';
}

/** An operator-readable reason for a command that did not succeed, from its status, exit code and output. */
export function describeCommandFailure(
  status: string,
  exitCode: number,
  stderr: string,
  stdout: string,
  statusDetails?: string,
): string {
  const tail = lastLines(stderr.trim() || stdout.trim(), TAIL_LINES);
  const reason = failureReason(status, exitCode, statusDetails);
  return boundedError(tail ? `Subtask failed: ${reason}: ${tail}` : `Subtask failed: ${reason}.`);
}

/**
 * Why a subtask whose state timed out did not finish, from what SSM says of its command (undefined:
 * SSM has no such invocation) and, for a command that never reached the host, the host's ping status.
 */
export function describeTimedOutSubtask(
  timeoutSeconds: number,
  invocation: CommandInvocation | undefined,
  ping?: InstancePing,
): string {
  return boundedError(timedOutReason(timeoutSeconds, invocation, ping));
}

function timedOutReason(
  timeoutSeconds: number,
  invocation: CommandInvocation | undefined,
  ping: InstancePing | undefined,
): string {
  const timedOut = `Subtask failed: it did not finish within its timeout of ${timeoutSeconds} s`;
  if (!invocation) return `${timedOut}: SSM has no record of its command on the host.`;
  switch (commandProgress(invocation)) {
    case 'undelivered':
      return `${timedOut}: its command never reached the host (${pingReason(ping)}).`;
    case 'running':
      return `${timedOut}: its command was still running on the host (SSM status ${invocation.status}).`;
    case 'ended': {
      const lost = 'but its status event did not reach the workflow in time';
      if (invocation.status === 'Success')
        return `${timedOut}: its command had succeeded on the host, ${lost}.`;
      const tail = lastLines(invocation.stderr.trim() || invocation.stdout.trim(), TAIL_LINES);
      const reason = failureReason(invocation.status, invocation.exitCode, invocation.statusDetails);
      return `${timedOut}: ${reason}, ${lost}${tail ? `: ${tail}` : '.'}`;
    }
  }
}

function failureReason(status: string, exitCode: number, statusDetails: string | undefined): string {
  const details = normalized(statusDetails);
  if (details === 'DeliveryTimedOut' || details === 'Undeliverable' || status === 'Undeliverable')
    return 'the host did not receive the command (its SSM agent is offline or unreachable)';
  if (status === 'TimedOut') return 'the command timed out on the host';
  if (status === 'Cancelled') return 'the command was cancelled';
  if (status === 'Failed') return `the command exited with code ${exitCode}`;
  return `the command ended with status ${status}`;
}

function pingReason(ping: InstancePing | undefined): string {
  switch (ping) {
    case 'ConnectionLost':
      return 'its SSM agent is offline: ping status ConnectionLost';
    case 'Inactive':
      return 'the instance is not running: ping status Inactive';
    case 'NotRegistered':
      return 'the instance is not registered with SSM';
    case 'Online':
      return 'its SSM agent is online but had not taken the command';
    default:
      return 'its SSM ping status could not be read';
  }
}

/** "Delivery Timed Out" and "DeliveryTimedOut" alike. */
function normalized(statusDetails: string | undefined): string {
  return (statusDetails ?? '').replaceAll(' ', '');
}

function lastLines(text: string, count: number): string {
  return text.split('\n').slice(-count).join(' | ');
}
