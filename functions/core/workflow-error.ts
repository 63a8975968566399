import { subtaskAt } from './subtasks.ts';
import { boundedError } from './task-limits.ts';

/**
 * An operator-readable reason from the error a workflow state caught. A Lambda failure's Cause is
 * the JSON of the function's error; a SubtaskFailed Cause is already the reason.
 */
export function describeWorkflowError(
  error: string | undefined,
  cause: string | undefined,
  subtaskIndex: number,
): string {
  return boundedError(workflowErrorReason(error, cause, subtaskIndex));
}

function workflowErrorReason(
  error: string | undefined,
  cause: string | undefined,
  subtaskIndex: number,
): string {
  if (error === 'States.Timeout') {
    return `Subtask failed: it did not finish within its timeout of ${subtaskAt(subtaskIndex).timeoutSeconds} s.`;
  }
  if (error === 'ExecutionAborted') return 'Subtask failed: the execution was stopped while it ran.';
  if (error === 'ExecutionLost')
    return 'Subtask failed: the execution running it was lost (its runtime stopped).';
  if (error === 'ResumeLost')
    return 'Subtask failed: the task was handed back to its workflow (a retry, a skip or a resume), but its execution was never resumed.';
  const message = causeMessage(cause);
  if (error === 'SubtaskFailed') return message ?? 'Subtask failed.';
  return `Subtask failed: ${error ?? 'error'}${message ? `: ${message}` : ''}`;
}

function causeMessage(cause: string | undefined): string | undefined {
  if (!cause) return undefined;
  try {
    const parsed: unknown = JSON.parse(cause);
    if (
      parsed &&
      typeof parsed === 'object' &&
      'errorMessage' in parsed &&
      typeof parsed.errorMessage === 'string'
    ) {
      return parsed.errorMessage;
    }
  } catch {
    // Not JSON: the cause is the message itself.
  }
  return cause;
}
