import { commandTimeouts } from './command-timeouts.ts';

/**
 * The waits a subtask's host script may perform, in whole seconds: its SSM document sets each as a
 * shell setting (host-scripts/agent-lib.sh), and a script may wait only on what its document sets.
 * A script stops processes at most once (grace, then kill wait) and starts them at most once.
 */
export interface ScriptWaits {
  /** STOP_GRACE_SECONDS: from SIGTERM to SIGKILL for each process being stopped. */
  readonly stopGraceSeconds?: number;
  /** KILL_WAIT_SECONDS: for a SIGKILLed process to disappear. */
  readonly killWaitSeconds?: number;
  /**
   * START_WAIT_SECONDS: for the control script to return and the processes it starts to have a live
   * pid; a control script still running then is SIGKILLed.
   */
  readonly startWaitSeconds?: number;
}

export type ScriptWait = keyof ScriptWaits;

/** The shell setting each wait is exported as, in the order a document sets them. */
export const SCRIPT_WAIT_SETTINGS: Readonly<Record<ScriptWait, string>> = {
  stopGraceSeconds: 'STOP_GRACE_SECONDS',
  killWaitSeconds: 'KILL_WAIT_SECONDS',
  startWaitSeconds: 'START_WAIT_SECONDS',
};

/**
 * Kept free within the execution timeout for the rest of the script: bash starting, the install
 * checks, reading pid files, polling overshoot, copying the control script's output.
 */
export const SCRIPT_RESERVE_SECONDS = 2;

/** The longest the script can spend waiting: every wait it may perform, run out in full. */
export function worstCaseWaitSeconds(waits: ScriptWaits): number {
  return (waits.stopGraceSeconds ?? 0) + (waits.killWaitSeconds ?? 0) + (waits.startWaitSeconds ?? 0);
}

/**
 * The waits, checked to fit the command's execution timeout (commandTimeouts) with the reserve, so
 * the script fails with its own exit code and message before SSM would kill it (ExecutionTimedOut).
 * Throws a RangeError for waits that do not fit, or are not whole seconds of at least 1.
 */
export function checkedScriptWaits(subtaskTimeoutSeconds: number, waits: ScriptWaits): ScriptWaits {
  for (const [wait, seconds] of Object.entries(waits)) {
    if (!Number.isInteger(seconds) || seconds < 1) {
      throw new RangeError(`The wait ${wait} must be a whole number of at least 1 s, got ${seconds}`);
    }
  }
  const { executionTimeoutSeconds } = commandTimeouts(subtaskTimeoutSeconds);
  const worstCase = worstCaseWaitSeconds(waits);
  if (worstCase + SCRIPT_RESERVE_SECONDS > executionTimeoutSeconds) {
    throw new RangeError(
      `Waits of ${worstCase} s plus a reserve of ${SCRIPT_RESERVE_SECONDS} s exceed the execution timeout of ${executionTimeoutSeconds} s of a ${subtaskTimeoutSeconds}-s subtask`,
    );
  }
  return waits;
}
