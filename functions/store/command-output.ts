import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { logs } from '#aws/logs';
import type { AttemptOutput } from '#core/subtask-log';

/**
 * An attempt's output in full: what SSM returned inline, or — when SSM cut it — the whole text from
 * the CloudWatch streams SSM wrote it to. If those cannot be read, the inline text says so at its end.
 */
export async function withFullOutput(attempt: AttemptOutput): Promise<AttemptOutput> {
  const location = attempt.fullOutput;
  if (!location) return attempt;
  try {
    const [stdout, stderr] = await Promise.all([
      readStream(location.logGroup, location.stdoutStream),
      readStream(location.logGroup, location.stderrStream),
    ]);
    return { ...attempt, stdout: stdout ?? attempt.stdout, stderr: stderr ?? attempt.stderr };
  } catch (error) {
    const reason = error instanceof Error ? error.name : 'unknown error';
    const note = `\n[SSM returned this output truncated; its full text in ${location.logGroup} could not be read: ${reason}]`;
    return { ...attempt, stdout: `${attempt.stdout}${note}` };
  }
}

/** A log stream's whole text, or undefined when the stream does not exist (nothing was written to it). */
async function readStream(logGroupName: string, logStreamName: string): Promise<string | undefined> {
  const lines: string[] = [];
  let nextToken: string | undefined;
  try {
    for (;;) {
      const page = await logs.send(
        new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken }),
      );
      for (const event of page.events ?? []) lines.push(event.message ?? '');
      // The last page repeats its forward token.
      if (!page.nextForwardToken || page.nextForwardToken === nextToken) break;
      nextToken = page.nextForwardToken;
    }
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
  return lines.join('\n');
}
