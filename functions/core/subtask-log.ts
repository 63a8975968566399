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

export type OutputChannel = 'stdout' | 'stderr';

const CHANNELS: readonly OutputChannel[] = ['stdout', 'stderr'];

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

/** What the SSM Agent puts at the end of output it cut (agent/plugins/pluginutil StringPrefix). */
export const SSM_TRUNCATED_SUFFIX = '--output truncated--';

const utf8 = new TextEncoder();

/**
 * The channels SSM may have cut: their inline text ends with the agent's truncation mark, or reached
 * SSM's limit (in UTF-8 bytes, as the agent counts; never fewer than the characters).
 */
export function channelsCutBySsm(output: { stdout: string; stderr: string }): OutputChannel[] {
  return CHANNELS.filter((channel) => {
    const text = output[channel];
    const limit = SSM_INLINE_OUTPUT_LIMITS[channel];
    return text.endsWith(SSM_TRUNCATED_SUFFIX) || utf8.encode(text).length >= limit;
  });
}

/** True when SSM may have cut the output it returned inline. */
export function isTruncatedBySsm(stdout: string, stderr: string): boolean {
  return channelsCutBySsm({ stdout, stderr }).length > 0;
}

/** What reading a channel's CloudWatch Logs stream gave. */
export type StreamRead =
  | { kind: 'text'; text: string }
  /** No such stream (or log group): the agent wrote none, or it expired. */
  | { kind: 'missing' }
  | { kind: 'failed'; reason: string };

/** An attempt as its log shows it: `cut` lists the channels left as SSM cut them, and why. */
export interface ShownAttempt extends AttemptOutput {
  cut?: { channel: OutputChannel; reason: string }[];
}

/**
 * The attempt with each channel SSM cut replaced by the full text read from CloudWatch Logs — or,
 * when that text is not there or not whole, left as SSM cut it and marked with the reason.
 * `reads` holds what reading each cut channel's stream gave (nothing when no stream was recorded).
 */
export function showAttempt(
  attempt: AttemptOutput,
  reads: Partial<Record<OutputChannel, StreamRead>>,
): ShownAttempt {
  const shown: ShownAttempt = { ...attempt };
  const cut: { channel: OutputChannel; reason: string }[] = [];
  for (const channel of channelsCutBySsm(attempt)) {
    const read = reads[channel];
    if (read?.kind === 'text' && read.text.length >= inlineBody(attempt[channel]).length) {
      shown[channel] = read.text;
    } else {
      cut.push({ channel, reason: unavailableReason(read, attempt.fullOutput) });
    }
  }
  return cut.length > 0 ? { ...shown, cut } : shown;
}

/** The text SSM returned, without its truncation mark or trailing line breaks (the stream has neither). */
function inlineBody(text: string): string {
  return (text.endsWith(SSM_TRUNCATED_SUFFIX) ? text.slice(0, -SSM_TRUNCATED_SUFFIX.length) : text).trimEnd();
}

function unavailableReason(read: StreamRead | undefined, location: FullOutputLocation | undefined): string {
  if (!location || !read) return 'no CloudWatch Logs stream was recorded for this attempt';
  switch (read.kind) {
    case 'missing':
      return `${location.logGroup} has no stream of it: the host's instance role may lack the CommandOutputPolicyArn policy (the SSM Agent then streams nothing), or the stream expired`;
    case 'failed':
      return `its stream in ${location.logGroup} could not be read (${read.reason})`;
    case 'text':
      return `its stream in ${location.logGroup} holds less than SSM returned: the SSM Agent stopped streaming it`;
  }
}

/** A subtask's log as the API returns it. */
export interface SubtaskLogView {
  /** Every attempt's stdout and stderr, oldest first. */
  log: string;
  /** True when some output in `log` is only the part SSM returned inline: its full text is not available. */
  truncated: boolean;
}

/** A subtask's log as OCP shows it: every attempt's full stdout and stderr, oldest first. */
export function formatSubtaskLog(attempts: readonly ShownAttempt[]): SubtaskLogView {
  return {
    log: attempts.map(formatAttempt).join('\n'),
    truncated: attempts.some((attempt) => (attempt.cut?.length ?? 0) > 0),
  };
}

/** One attempt's section of the log: a header line, its stdout, then its stderr if any. */
export function formatAttempt(attempt: ShownAttempt): string {
  const note = (channel: OutputChannel) => {
    const cut = attempt.cut?.find((entry) => entry.channel === channel);
    return cut ? [cutNote(channel, cut.reason)] : [];
  };
  return [
    `=== attempt ${attempt.attempt} · command ${attempt.commandId} · exit code ${attempt.exitCode} · ${attempt.recordedAt} ===`,
    attempt.stdout,
    ...note('stdout'),
    ...(attempt.stderr ? ['--- stderr ---', attempt.stderr, ...note('stderr')] : []),
  ].join('\n');
}

/** The line that follows a channel left as SSM cut it. */
export function cutNote(channel: OutputChannel, reason: string): string {
  return `[${channel} truncated: SSM cut it at ${SSM_INLINE_OUTPUT_LIMITS[channel].toLocaleString('en-US')} characters, and its full text is not available: ${reason}]`;
}
