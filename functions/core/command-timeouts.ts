/**
 * SSM's two timeouts for a subtask's command, chosen so that the subtask's own timeout bounds the
 * whole subtask: SSM reports an unreachable host (DeliveryTimedOut) or a hung script
 * (ExecutionTimedOut) while the workflow step still waits, so the subtask fails with that reason
 * rather than with the state's timeout.
 */
export interface CommandTimeouts {
  /** SendCommand `TimeoutSeconds`: how long SSM tries to deliver the command to the host. */
  deliveryTimeoutSeconds: number;
  /** The document step's `timeoutSeconds`: how long the script may run once delivered. */
  executionTimeoutSeconds: number;
}

/** The smallest delivery timeout SendCommand accepts (botocore's model: TimeoutSeconds min 30). */
export const MIN_DELIVERY_TIMEOUT_SECONDS = 30;

/**
 * Kept free within a subtask's timeout: run-subtask starting and sending the command before SSM's
 * delivery clock starts, and SSM's status event reaching command-callback, which completes the step.
 */
export const CALLBACK_MARGIN_SECONDS = 10;

/**
 * delivery + execution + margin = the subtask's timeout. Delivery gets SSM's minimum, the rest goes to
 * the script. A command no host took expires (DeliveryTimedOut) after delivery + execution, as AWS
 * documents, so still a margin before the subtask's own timeout.
 */
export function commandTimeouts(subtaskTimeoutSeconds: number): CommandTimeouts {
  const executionTimeoutSeconds =
    subtaskTimeoutSeconds - MIN_DELIVERY_TIMEOUT_SECONDS - CALLBACK_MARGIN_SECONDS;
  if (!Number.isInteger(subtaskTimeoutSeconds) || executionTimeoutSeconds < 1) {
    throw new RangeError(
      `A subtask timeout of ${subtaskTimeoutSeconds} s leaves no time to run its command: it must be a whole number of at least ${MIN_DELIVERY_TIMEOUT_SECONDS + CALLBACK_MARGIN_SECONDS + 1} s`,
    );
  }
  return { deliveryTimeoutSeconds: MIN_DELIVERY_TIMEOUT_SECONDS, executionTimeoutSeconds };
}
