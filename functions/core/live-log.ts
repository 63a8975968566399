import { InvalidArgument } from './errors.ts';
import * as z from './schema.ts';
import {
  cutNote,
  formatAttempt,
  formatSubtaskLog,
  type OutputChannel,
  type ShownAttempt,
  type SubtaskLogView,
} from './subtask-log.ts';

/**
 * Live logs: while a subtask's command runs, its log shows the output written so far, read from the
 * CloudWatch Logs streams SSM writes it to; a cursor lets a reader ask for only what came after.
 *
 * The log is lines joined by "\n". An answer to a cursor holds the lines to append to what the reader
 * has (the first of them preceded by "\n" when it already has some), so that following a running
 * attempt with cursors only ever appends: the output in the order it was read, a `--- stderr ---` or
 * `--- stdout ---` line where the channel changes, and a closing `=== attempt N ended · … ===` line
 * once the attempt's outcome is recorded. The log read without a cursor is the recorded form.
 */

/** Where a reader stands in one channel of the running attempt. */
export interface ChannelPosition {
  /** GetLogEvents' nextForwardToken to read on from; none until the stream was read with output. */
  token?: string;
  /** How many non-empty lines of the channel the reader has. */
  lines: number;
}

/** What a reader of a subtask's log has: a cursor's content. */
export interface LogCursor {
  taskId: number;
  subtaskId: number;
  /** Every attempt up to this number was delivered whole, as recorded (0: none). */
  ended: number;
  /** The attempt delivered while it ran, in part. */
  live?: {
    attempt: number;
    commandId: string;
    /** The channel the last delivered output line belongs to. */
    channel: OutputChannel;
    streams: Record<OutputChannel, ChannelPosition>;
  };
}

const CURSOR_VERSION = 1;
/** Far above any cursor this module writes (two CloudWatch tokens and a command id). */
export const MAX_CURSOR_LENGTH = 2048;

const Position = z.strictObject({
  k: z.optional(z.string().check(z.minLength(1), z.maxLength(512))),
  n: z.number().check(z.int(), z.minimum(0)),
});
const Positive = z.number().check(z.int(), z.positive());
const CursorJson = z.strictObject({
  v: z.literal(CURSOR_VERSION),
  t: Positive,
  s: Positive,
  e: z.number().check(z.int(), z.minimum(0)),
  l: z.optional(
    z.strictObject({
      a: Positive,
      c: z.string().check(z.minLength(1), z.maxLength(64)),
      ch: z.enum(['stdout', 'stderr']),
      o: z.strictObject({ stdout: Position, stderr: Position }),
    }),
  ),
});

/** The cursor handed to a reader: opaque, base64url of its JSON. */
export function encodeCursor(cursor: LogCursor): string {
  const position = ({ token, lines }: ChannelPosition) => ({ ...(token ? { k: token } : {}), n: lines });
  const json: z.infer<typeof CursorJson> = {
    v: CURSOR_VERSION,
    t: cursor.taskId,
    s: cursor.subtaskId,
    e: cursor.ended,
    ...(cursor.live
      ? {
          l: {
            a: cursor.live.attempt,
            c: cursor.live.commandId,
            ch: cursor.live.channel,
            o: { stdout: position(cursor.live.streams.stdout), stderr: position(cursor.live.streams.stderr) },
          },
        }
      : {}),
  };
  return Buffer.from(JSON.stringify(json), 'utf8').toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The cursor a reader passed back, checked to be one this module wrote for this subtask; anything
 * else is refused naming the `cursor` parameter.
 */
export function decodeCursor(raw: string, subtask: { taskId: number; subtaskId: number }): LogCursor {
  if (raw.length === 0 || raw.length > MAX_CURSOR_LENGTH || !BASE64URL.test(raw))
    throw invalidCursor('it is not a cursor this API returned');
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('it is not a cursor this API returned');
  }
  const parsed = CursorJson.safeParse(json);
  if (!parsed.success) throw invalidCursor('it is not a cursor this API returned');
  const { t, s, e, l } = parsed.data;
  if (t !== subtask.taskId || s !== subtask.subtaskId)
    throw invalidCursor(`it was returned for another subtask's log (subtask ${s} of task ${t})`);
  if (l && l.a <= e) throw invalidCursor('it is not a cursor this API returned');
  const position = ({ k, n }: z.infer<typeof Position>): ChannelPosition => ({
    ...(k ? { token: k } : {}),
    lines: n,
  });
  return {
    taskId: t,
    subtaskId: s,
    ended: e,
    ...(l
      ? {
          live: {
            attempt: l.a,
            commandId: l.c,
            channel: l.ch,
            streams: { stdout: position(l.o.stdout), stderr: position(l.o.stderr) },
          },
        }
      : {}),
  };
}

export function invalidCursor(reason: string): InvalidArgument {
  return new InvalidArgument(
    `Invalid cursor: ${reason}. Pass the cursor of this subtask's last log answer, or none for the whole log.`,
    'cursor',
  );
}

/** The attempt whose command is running: known by its command, its outcome not recorded yet. */
export interface RunningAttempt {
  attempt: number;
  commandId: string;
}

/** What reading a running attempt's channel from a position gave. */
export interface ChannelRead {
  /** The lines read, in order (a line break inside an event splits it). */
  lines: string[];
  /** The position after them; the position read from when the read failed or found nothing. */
  next: ChannelPosition;
}

/**
 * Checks the cursor against the subtask's attempts as they stand: its attempts must be ones the
 * subtask has (by number and command), else it is refused and nothing is read.
 */
export function checkCursor(
  cursor: LogCursor,
  recorded: readonly { attempt: number; commandId: string }[],
  running: RunningAttempt | undefined,
): void {
  const latest = Math.max(0, ...recorded.map((attempt) => attempt.attempt), running?.attempt ?? 0);
  if (cursor.ended > latest) throw invalidCursor('it names attempts this subtask does not have');
  const live = cursor.live;
  if (!live) return;
  const known =
    recorded.find((attempt) => attempt.attempt === live.attempt) ??
    (running?.attempt === live.attempt ? running : undefined);
  if (known?.commandId !== live.commandId)
    throw invalidCursor('it names attempts this subtask does not have');
}

/** The position of a running attempt the reader starts reading from: its cursor's, or the streams' heads. */
export function startPositions(
  cursor: LogCursor | undefined,
  running: RunningAttempt,
): Record<OutputChannel, ChannelPosition> {
  const live = cursor?.live;
  if (live && live.attempt === running.attempt && live.commandId === running.commandId) return live.streams;
  return { stdout: { lines: 0 }, stderr: { lines: 0 } };
}

/** A subtask's log answer: the log view, whether its latest attempt still runs, and the cursor to go on from. */
export interface LiveLogView extends SubtaskLogView {
  running: boolean;
  cursor: string;
}

export interface LiveLogInput {
  taskId: number;
  subtaskId: number;
  /** Every recorded attempt, oldest first, as its log shows it. */
  recorded: readonly ShownAttempt[];
  /** Whether the subtask's current attempt has not ended (its outcome is not recorded). */
  running: boolean;
  /** The running attempt's command and what was read from its streams, once it has a command. */
  live?: { attempt: RunningAttempt; reads: Record<OutputChannel, ChannelRead> };
  /** What the reader has; none for the whole log. */
  cursor?: LogCursor;
}

/** The log answer: the whole log without a cursor, else only what the reader does not have yet. */
export function liveLogView(input: LiveLogInput): LiveLogView {
  const { recorded, live, cursor } = input;
  const pieces: string[] = [];
  const delivered = cursor?.ended ?? 0;
  for (const attempt of recorded) {
    if (attempt.attempt <= delivered) continue;
    const followed = cursor?.live;
    pieces.push(
      followed && followed.attempt === attempt.attempt
        ? endOfFollowedAttempt(attempt, followed)
        : formatAttempt(attempt),
    );
  }
  let channel: OutputChannel = 'stdout';
  if (live) {
    const followed = cursor?.live;
    const continued =
      followed?.attempt === live.attempt.attempt && followed.commandId === live.attempt.commandId;
    const lines: string[] = continued
      ? []
      : [`=== attempt ${live.attempt.attempt} · command ${live.attempt.commandId} · running ===`];
    channel = continued ? followed.channel : 'stdout';
    for (const name of ['stdout', 'stderr'] as const) {
      const read = live.reads[name].lines;
      if (read.length === 0) continue;
      if (name !== channel) lines.push(`--- ${name} ---`);
      lines.push(...read);
      channel = name;
    }
    if (lines.length > 0) pieces.push(lines.join('\n'));
  }
  const text = pieces.join('\n');
  const readerHasSome = cursor !== undefined && (cursor.ended > 0 || cursor.live !== undefined);
  const latestRecorded = Math.max(delivered, ...recorded.map((attempt) => attempt.attempt));
  const next: LogCursor = {
    taskId: input.taskId,
    subtaskId: input.subtaskId,
    ended: latestRecorded,
    ...(live
      ? {
          live: {
            attempt: live.attempt.attempt,
            commandId: live.attempt.commandId,
            channel,
            streams: { stdout: live.reads.stdout.next, stderr: live.reads.stderr.next },
          },
        }
      : {}),
  };
  const newlyRecorded = recorded.filter((attempt) => attempt.attempt > delivered);
  return {
    log: readerHasSome && text !== '' ? `\n${text}` : text,
    truncated: formatSubtaskLog(newlyRecorded).truncated,
    running: input.running,
    cursor: encodeCursor(next),
  };
}

/**
 * The rest of an attempt the reader followed while it ran: its recorded output after the lines the
 * reader has, then the line saying how it ended.
 */
function endOfFollowedAttempt(attempt: ShownAttempt, followed: NonNullable<LogCursor['live']>): string {
  const lines: string[] = [];
  let channel = followed.channel;
  for (const name of ['stdout', 'stderr'] as const) {
    const rest = linesAfter(attempt[name], followed.streams[name].lines);
    const cut = attempt.cut?.find((entry) => entry.channel === name);
    if (rest.length === 0 && !cut) continue;
    if (name !== channel) lines.push(`--- ${name} ---`);
    lines.push(...rest);
    if (cut) lines.push(cutNote(name, cut.reason));
    channel = name;
  }
  lines.push(
    `=== attempt ${attempt.attempt} ended · command ${attempt.commandId} · exit code ${attempt.exitCode} · ${attempt.recordedAt} ===`,
  );
  return lines.join('\n');
}

/**
 * The lines of `text` after its first `nonEmpty` non-empty lines. CloudWatch Logs holds no empty
 * event, so positions count non-empty lines: the same count whether or not blank lines were streamed.
 */
export function linesAfter(text: string, nonEmpty: number): string[] {
  const lines = splitLines(text);
  let seen = 0;
  let index = 0;
  while (index < lines.length && seen < nonEmpty) {
    if (lines[index] !== '') seen++;
    index++;
  }
  return lines.slice(index);
}

/** A text's lines, without the empty one after a final line break. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The lines of events read from a stream (an event holding line breaks gives several). */
export function eventLines(messages: readonly string[]): string[] {
  return messages.flatMap(splitLines);
}

export const countNonEmpty = (lines: readonly string[]) => lines.filter((line) => line !== '').length;
