/** One attempt's recorded output (the store's SubtaskLog, without storage details). */
export interface AttemptOutput {
  attempt: number;
  commandId: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  recordedAt: string;
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
