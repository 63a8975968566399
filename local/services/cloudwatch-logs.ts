import { z } from 'zod';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

const GetLogEventsInput = z
  .object({ logGroupName: z.string(), logStreamName: z.string(), nextToken: z.string().optional() })
  .loose();

const STREAM = /^([^/]+)\/([^/]+)\/[^/]+\/(stdout|stderr)$/;
const END_TOKEN = 'f/end';

/**
 * The CloudWatch Logs reads the product makes: GetLogEvents on the streams the SSM Agent writes a
 * command's output to (`<command id>/<instance id>/<step>/stdout|stderr`), served from what the local
 * SSM's agent streamed. As on AWS, a stream exists only if the agent wrote to it: not when the command
 * asked for no CloudWatch output or the instance's role may not write logs, nor for a channel that
 * printed nothing; reading one that does not exist answers ResourceNotFoundException.
 */
export class LocalCloudWatchLogs implements LocalService {
  constructor(
    private readonly streamedOutput: (
      commandId: string,
      instanceId: string,
    ) => { logGroupName: string; stdout: string; stderr: string } | undefined,
  ) {}

  async handle(operation: string, input: unknown): Promise<unknown> {
    if (operation !== 'GetLogEvents') throw unknownOperation(`Logs_20140328.${operation}`);
    const parsed = GetLogEventsInput.safeParse(input);
    if (!parsed.success)
      throw new AwsError('InvalidParameterException', 'logGroupName and logStreamName are required');
    const { logGroupName, logStreamName, nextToken } = parsed.data;
    const match = STREAM.exec(logStreamName);
    const output = match ? this.streamedOutput(match[1]!, match[2]!) : undefined;
    const text = output?.logGroupName === logGroupName ? output[match?.[3] as 'stdout' | 'stderr'] : '';
    if (!text) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    // One page holds everything; the next read from its token returns nothing, as at a stream's end.
    const events =
      nextToken === END_TOKEN
        ? []
        : [{ timestamp: Date.now(), message: text.replace(/\n$/, ''), ingestionTime: Date.now() }];
    return { events, nextForwardToken: END_TOKEN, nextBackwardToken: 'b/start' };
  }
}
