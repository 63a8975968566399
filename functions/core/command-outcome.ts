const TAIL_LINES = 5;

/** An operator-readable reason for a command that did not succeed, from its status, exit code and output. */
export function describeCommandFailure(
  status: string,
  exitCode: number,
  stderr: string,
  stdout: string,
  statusDetails?: string,
): string {
  const reason =
    statusDetails === 'DeliveryTimedOut' || statusDetails === 'Undeliverable' || status === 'Undeliverable'
      ? 'the host did not receive the command (its SSM agent is offline or unreachable)'
      : status === 'TimedOut'
        ? 'the command timed out on the host'
        : status === 'Cancelled'
          ? 'the command was cancelled'
          : status === 'Failed'
            ? `the command exited with code ${exitCode}`
            : `the command ended with status ${status}`;
  const tail = lastLines(stderr.trim() || stdout.trim(), TAIL_LINES);
  return tail ? `Subtask failed: ${reason}: ${tail}` : `Subtask failed: ${reason}.`;
}

function lastLines(text: string, count: number): string {
  return text.split('\n').slice(-count).join(' | ');
}
