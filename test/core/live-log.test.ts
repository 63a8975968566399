import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '#core/errors';
import {
  type ChannelRead,
  checkCursor,
  decodeCursor,
  encodeCursor,
  type LiveLogInput,
  type LogCursor,
  linesAfter,
  liveLogView,
  MAX_CURSOR_LENGTH,
  startPositions,
} from '#core/live-log';
import { type AttemptOutput, formatSubtaskLog } from '#core/subtask-log';

const SUBTASK = { taskId: 7, subtaskId: 10 };
const ended = (attempt: number, output: Partial<AttemptOutput> = {}): AttemptOutput => ({
  attempt,
  commandId: `cmd-${attempt}`,
  exitCode: 0,
  stdout: 'ok\n',
  stderr: '',
  recordedAt: '2026-12-01T10:00:00.000+00:00',
  ...output,
});
const read = (lines: string[], token: string, before = 0): ChannelRead => ({
  lines,
  next: { token, lines: before + lines.filter((line) => line !== '').length },
});
const nothing = (position: ChannelRead['next'] = { lines: 0 }): ChannelRead => ({
  lines: [],
  next: position,
});
const running2 = { attempt: 2, commandId: 'cmd-2' };

function view(input: Partial<LiveLogInput>) {
  const answer = liveLogView({ ...SUBTASK, recorded: [], running: false, ...input });
  return { ...answer, decoded: decodeCursor(answer.cursor, SUBTASK) };
}

describe('the log cursor', () => {
  const cursor: LogCursor = {
    ...SUBTASK,
    ended: 1,
    live: {
      attempt: 2,
      commandId: 'cmd-2',
      channel: 'stderr',
      streams: { stdout: { token: 'f/000000000004/s', lines: 4 }, stderr: { lines: 0 } },
    },
  };

  it('is opaque base64url that decodes to what was encoded', () => {
    const encoded = encodeCursor(cursor);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(encoded, SUBTASK)).toEqual(cursor);
    expect(decodeCursor(encodeCursor({ ...SUBTASK, ended: 0 }), SUBTASK)).toEqual({ ...SUBTASK, ended: 0 });
  });

  const json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  it.each([
    ['an empty value', ''],
    ['text that is not base64url', 'not a cursor!'],
    ['base64url of something else than JSON', Buffer.from('hello').toString('base64url')],
    ['JSON of another shape', json({ v: 1, t: 7 })],
    ['another version', json({ v: 2, t: 7, s: 10, e: 0 })],
    ['an unknown field', json({ v: 1, t: 7, s: 10, e: 0, x: 1 })],
    ['a negative position', json({ v: 1, t: 7, s: 10, e: -1 })],
    [
      'a live attempt it says ended',
      json({
        v: 1,
        t: 7,
        s: 10,
        e: 2,
        l: { a: 2, c: 'c', ch: 'stdout', o: { stdout: { n: 0 }, stderr: { n: 0 } } },
      }),
    ],
    ['more than the longest cursor', 'A'.repeat(MAX_CURSOR_LENGTH + 1)],
  ])('refuses %s, naming the cursor parameter', (_, raw) => {
    expect(() => decodeCursor(raw, SUBTASK)).toThrow(InvalidArgument);
    expect(() => decodeCursor(raw, SUBTASK)).toThrow(expect.objectContaining({ target: 'cursor' }));
  });

  it('refuses the cursor of another subtask or task', () => {
    const other = encodeCursor({ taskId: 7, subtaskId: 11, ended: 0 });
    expect(() => decodeCursor(other, SUBTASK)).toThrow(/another subtask's log \(subtask 11 of task 7\)/);
    expect(() => decodeCursor(encodeCursor({ taskId: 8, subtaskId: 10, ended: 0 }), SUBTASK)).toThrow(
      InvalidArgument,
    );
  });

  it('is checked against the attempts the subtask has', () => {
    const recorded = [ended(1)];
    expect(() => checkCursor(cursor, recorded, running2)).not.toThrow();
    expect(() => checkCursor(cursor, [ended(1), ended(2)], undefined)).not.toThrow();
    expect(() => checkCursor(cursor, recorded, { attempt: 2, commandId: 'cmd-other' })).toThrow(
      /attempts this subtask does not have/,
    );
    expect(() => checkCursor(cursor, recorded, undefined)).toThrow(InvalidArgument);
    expect(() => checkCursor({ ...SUBTASK, ended: 3 }, recorded, running2)).toThrow(InvalidArgument);
  });

  it('gives the positions to read a running attempt from: its own, or the streams’ heads', () => {
    expect(startPositions(cursor, running2)).toEqual(cursor.live?.streams);
    expect(startPositions(cursor, { attempt: 3, commandId: 'cmd-3' })).toEqual({
      stdout: { lines: 0 },
      stderr: { lines: 0 },
    });
    expect(startPositions(undefined, running2)).toEqual({ stdout: { lines: 0 }, stderr: { lines: 0 } });
  });
});

describe('liveLogView', () => {
  it('without a cursor, answers a finished subtask’s log as recorded', () => {
    const recorded = [ended(1, { exitCode: 1, stderr: 'boom\n' }), ended(2)];
    const answer = view({ recorded });

    expect(answer.log).toBe(formatSubtaskLog(recorded).log);
    expect(answer).toMatchObject({ truncated: false, running: false });
    expect(answer.decoded).toEqual({ ...SUBTASK, ended: 2 });
  });

  it('without a cursor, follows the recorded attempts with the running one’s output so far', () => {
    const answer = view({
      recorded: [ended(1)],
      running: true,
      live: {
        attempt: running2,
        reads: { stdout: read(['one', 'two'], 'f/2'), stderr: read(['warn'], 'f/1') },
      },
    });

    expect(answer.log).toBe(
      [
        formatSubtaskLog([ended(1)]).log,
        '=== attempt 2 · command cmd-2 · running ===',
        'one',
        'two',
        '--- stderr ---',
        'warn',
      ].join('\n'),
    );
    expect(answer.running).toBe(true);
    expect(answer.decoded.live).toEqual({
      ...running2,
      channel: 'stderr',
      streams: { stdout: { token: 'f/2', lines: 2 }, stderr: { token: 'f/1', lines: 1 } },
    });
  });

  it('with a cursor, answers only the new lines, marking a change of channel, to append after a line break', () => {
    const first = view({
      running: true,
      live: { attempt: running2, reads: { stdout: read(['one'], 'f/1'), stderr: nothing() } },
    });
    const second = view({
      running: true,
      cursor: first.decoded,
      live: {
        attempt: running2,
        reads: { stdout: nothing(first.decoded.live?.streams.stdout), stderr: nothing() },
      },
    });
    const third = view({
      running: true,
      cursor: second.decoded,
      live: {
        attempt: running2,
        reads: { stdout: read(['two'], 'f/2', 1), stderr: read(['warn'], 'f/1') },
      },
    });
    const fourth = view({
      running: true,
      cursor: third.decoded,
      live: {
        attempt: running2,
        reads: { stdout: read(['three'], 'f/3', 2), stderr: nothing(third.decoded.live?.streams.stderr) },
      },
    });

    expect(first.log).toBe('=== attempt 2 · command cmd-2 · running ===\none');
    expect(second.log).toBe('');
    expect(second.cursor).toBe(first.cursor);
    expect(third.log).toBe('\ntwo\n--- stderr ---\nwarn');
    expect(fourth.log).toBe('\n--- stdout ---\nthree');
  });

  it('once the followed attempt is recorded, answers the rest of its output and how it ended', () => {
    const following = view({
      running: true,
      live: { attempt: running2, reads: { stdout: read(['one', 'two'], 'f/2'), stderr: nothing() } },
    });
    const recorded = [ended(2, { exitCode: 3, stdout: 'one\n\ntwo\nthree\n', stderr: 'failed\n' })];
    const final = view({ recorded, cursor: following.decoded });

    expect(final.log).toBe(
      [
        '',
        'three',
        '--- stderr ---',
        'failed',
        '=== attempt 2 ended · command cmd-2 · exit code 3 · 2026-12-01T10:00:00.000+00:00 ===',
      ].join('\n'),
    );
    expect(final).toMatchObject({ running: false, truncated: false });
    expect(final.decoded).toEqual({ ...SUBTASK, ended: 2 });
    expect(view({ recorded, cursor: final.decoded }).log).toBe('');
  });

  it('with a cursor, answers attempts recorded since in full, and a new running attempt from its start', () => {
    const before = view({ recorded: [ended(1)] });
    const after = view({
      recorded: [ended(1), ended(2)],
      running: true,
      cursor: before.decoded,
      live: {
        attempt: { attempt: 3, commandId: 'cmd-3' },
        reads: { stdout: read(['again'], 'f/1'), stderr: nothing() },
      },
    });

    expect(after.log).toBe(
      `\n${formatSubtaskLog([ended(2)]).log}\n=== attempt 3 · command cmd-3 · running ===\nagain`,
    );
  });

  it('says the attempt runs before its command is sent, with nothing to show yet', () => {
    const answer = view({ running: true });
    expect(answer).toMatchObject({ log: '', running: true });
    expect(answer.decoded).toEqual({ ...SUBTASK, ended: 0 });
  });

  it('reports truncated for a newly answered attempt left as SSM cut it', () => {
    const cut = { ...ended(1), cut: [{ channel: 'stdout' as const, reason: 'no stream' }] };
    expect(view({ recorded: [cut] }).truncated).toBe(true);
    expect(view({ recorded: [cut], cursor: { ...SUBTASK, ended: 1 } })).toMatchObject({
      log: '',
      truncated: false,
    });
  });
});

describe('linesAfter', () => {
  it('skips the lines a reader has, counting only non-empty ones (CloudWatch Logs holds no empty event)', () => {
    expect(linesAfter('a\n\nb\nc\n', 2)).toEqual(['c']);
    expect(linesAfter('a\nb', 0)).toEqual(['a', 'b']);
    expect(linesAfter('a\n', 5)).toEqual([]);
    expect(linesAfter('', 0)).toEqual([]);
  });
});
