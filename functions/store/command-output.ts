import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { logs } from '#aws/logs';
import {
  type ChannelPosition,
  type ChannelRead,
  countNonEmpty,
  eventLines,
  invalidCursor,
} from '#core/live-log';
import {
  type AttemptOutput,
  channelsCutBySsm,
  type OutputChannel,
  type ShownAttempt,
  type StreamRead,
  showAttempt,
} from '#core/subtask-log';
import { logger } from '../logger.ts';

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

/** At most this much text is read from a running attempt's stream per answer; the cursor goes on from there. */
export const LIVE_READ_BUDGET_BYTES = 1_000_000;
/** GetLogEvents calls per stream per answer, whatever the pages hold (a page may be empty before the end). */
const LIVE_READ_MAX_CALLS = 8;

/**
 * What a running attempt's stream holds after `from`: GetLogEvents from the stream's head, or on
 * from the position's forward token, page after page until CloudWatch Logs returns the token it was
 * given (the end of what the stream holds so far) or the budget is spent. A stream that does not
 * exist has nothing yet (the agent creates it with its first output). A token CloudWatch Logs
 * refuses (they expire after 24 hours) makes the cursor invalid.
 */
export async function readLiveChannel(
  logGroupName: string,
  logStreamName: string,
  from: ChannelPosition,
  budgetBytes = LIVE_READ_BUDGET_BYTES,
): Promise<ChannelRead> {
  const lines: string[] = [];
  let token = from.token;
  let bytes = 0;
  try {
    for (let call = 0; call < LIVE_READ_MAX_CALLS && bytes < budgetBytes; call++) {
      const page = await logs.send(
        new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, nextToken: token }),
      );
      const messages = (page.events ?? []).map((event) => event.message ?? '');
      lines.push(...eventLines(messages));
      bytes += messages.reduce((sum, message) => sum + Buffer.byteLength(message), 0);
      if (!page.nextForwardToken || page.nextForwardToken === token) break;
      token = page.nextForwardToken;
    }
  } catch (error) {
    const name = error instanceof Error ? error.name : 'unknown error';
    if (name === 'InvalidParameterException' && from.token)
      throw invalidCursor('its position in the output is no longer valid (CloudWatch Logs tokens expire)');
    if (name !== 'ResourceNotFoundException')
      logger.warn('A running command’s output stream could not be read', { logStreamName, error });
    // What was read before the failure is kept only with the token that follows it.
    if (lines.length === 0) return { lines: [], next: from };
  }
  return {
    lines,
    next: { ...(token ? { token } : {}), lines: from.lines + countNonEmpty(lines) },
  };
}
