import { z } from 'zod';
import { AwsError, type LocalService, unknownOperation } from '#local/local-service';

const GetLogEventsInput = z
  .object({ logGroupName: z.string(), logStreamName: z.string(), nextToken: z.string().optional() })
  .loose();

const STREAM = /^([^/]+)\/([^/]+)\/[^/]+\/(stdout|stderr)$/;
const END_TOKEN = 'f/end';

/**
 * The CloudWatch Logs reads the product makes: GetLogEvents on the streams SSM writes a command's full
 * output to (`<command id>/<instance id>/<step>/stdout|stderr`), served from the local SSM's record.
 */
export class LocalCloudWatchLogs implements LocalService {
  constructor(
    private readonly logGroupName: string,
    private readonly fullOutput: (
      commandId: string,
      instanceId: string,
    ) => { stdout: string; stderr: string } | undefined,
  ) {}

  async handle(operation: string, input: unknown): Promise<unknown> {
    if (operation !== 'GetLogEvents') throw unknownOperation(`Logs_20140328.${operation}`);
    const parsed = GetLogEventsInput.safeParse(input);
    if (!parsed.success)
      throw new AwsError('InvalidParameterException', 'logGroupName and logStreamName are required');
    const { logGroupName, logStreamName, nextToken } = parsed.data;
    const match = STREAM.exec(logStreamName);
    const output =
      match && logGroupName === this.logGroupName ? this.fullOutput(match[1]!, match[2]!) : undefined;
    const text = output?.[match?.[3] as 'stdout' | 'stderr'];
    if (!text) throw new AwsError('ResourceNotFoundException', 'The specified log stream does not exist.');
    // One page holds everything; the next read from its token returns nothing, as at a stream's end.
    const events =
      nextToken === END_TOKEN
        ? []
        : [{ timestamp: Date.now(), message: text.replace(/\n$/, ''), ingestionTime: Date.now() }];
    return { events, nextForwardToken: END_TOKEN, nextBackwardToken: 'b/start' };
  }
}
