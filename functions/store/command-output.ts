import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { logs } from '#aws/logs';
import {
  type AttemptOutput,
  channelsCutBySsm,
  type OutputChannel,
  type ShownAttempt,
  type StreamRead,
  showAttempt,
} from '#core/subtask-log';

/**
 * An attempt's output as its log shows it: each channel SSM cut read in full from the CloudWatch
 * stream SSM wrote it to, or marked as cut when that stream cannot give it.
 */
export async function withFullOutput(attempt: AttemptOutput): Promise<ShownAttempt> {
  const location = attempt.fullOutput;
  const cut = channelsCutBySsm(attempt);
  if (!location || cut.length === 0) return showAttempt(attempt, {});
  const streams: Record<OutputChannel, string> = {
    stdout: location.stdoutStream,
    stderr: location.stderrStream,
  };
  const reads = await Promise.all(
    cut.map(async (channel) => [channel, await readStream(location.logGroup, streams[channel])] as const),
  );
  return showAttempt(attempt, Object.fromEntries(reads));
}

/** A log stream's whole text, read from its start. */
async function readStream(logGroupName: string, logStreamName: string): Promise<StreamRead> {
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
    const name = error instanceof Error ? error.name : 'unknown error';
    return name === 'ResourceNotFoundException' ? { kind: 'missing' } : { kind: 'failed', reason: name };
  }
  return { kind: 'text', text: lines.join('\n') };
}
