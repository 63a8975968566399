/** One attempt's recorded output (the store's SubtaskLog, without storage details). */
export interface AttemptOutput {
  attempt: number;
  commandId: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  recordedAt: string;
  /** Set when SSM returned the output truncated: where its full text is (SSM's CloudWatch output). */
  fullOutput?: FullOutputLocation;
}

/** The CloudWatch Logs streams SSM writes a command's full output to. */
export interface FullOutputLocation {
  logGroup: string;
  stdoutStream: string;
  stderrStream: string;
}

/** What SSM returns inline at most (GetCommandInvocation): longer output is cut there. */
export const SSM_INLINE_OUTPUT_LIMITS = { stdout: 24_000, stderr: 8_000 } as const;

/**
 * Where SSM writes a command's full output when CloudWatch output is on: one stream per plugin and
 * channel, `<command id>/<instance id>/<step name>/stdout|stderr`.
 */
export function fullOutputLocation(
  logGroup: string,
  commandId: string,
  instanceId: string,
  stepName: string,
) {
  const prefix = `${commandId}/${instanceId}/${stepName}`;
  return { logGroup, stdoutStream: `${prefix}/stdout`, stderrStream: `${prefix}/stderr` };
}

/** True when SSM may have cut the output it returned inline. */
export function isTruncatedBySsm(stdout: string, stderr: string): boolean {
  return stdout.length >= SSM_INLINE_OUTPUT_LIMITS.stdout || stderr.length >= SSM_INLINE_OUTPUT_LIMITS.stderr;
}

/** A subtask's log as OCP shows it: every attempt's full stdout and stderr, oldest first. */
export function formatSubtaskLog(attempts: readonly AttemptOutput[]): string {
  return attempts
    .map((attempt) =>
      [
        `=== attempt ${attempt.attempt} · command ${attempt.commandId} · exit code ${attempt.exitCode} · ${attempt.recordedAt} ===`,
        attempt.stdout,
        ...(attempt.stderr ? ['--- stderr ---', attempt.stderr] : []),
      ].join('\n'),
    )
    .join('\n');
}
