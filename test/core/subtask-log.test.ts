import { describe, expect, it } from 'vitest';
import {
  type AttemptOutput,
  channelsCutBySsm,
  formatSubtaskLog,
  fullOutputLocation,
  SSM_TRUNCATED_SUFFIX,
  showAttempt,
} from '#core/subtask-log';

const location = fullOutputLocation('/ocp/command-output', 'cmd-1', 'i-0123456789abcdef0', 'startAgent');
const attempt = (output: Partial<AttemptOutput> = {}): AttemptOutput => ({
  attempt: 1,
  commandId: 'cmd-1',
  exitCode: 0,
  stdout: 'started\n',
  stderr: '',
  recordedAt: '2026-12-01T10:00:00.000+00:00',
  ...output,
});
const cutStdout = 'o'.repeat(24_000);
const fullStdout = 'o'.repeat(30_000);

describe('channelsCutBySsm', () => {
  it('finds nothing cut below SSM’s inline limits', () => {
    expect(channelsCutBySsm({ stdout: 'o'.repeat(23_999), stderr: 'e'.repeat(7_999) })).toEqual([]);
  });

  it('takes a channel that reached its limit as cut', () => {
    expect(channelsCutBySsm({ stdout: cutStdout, stderr: '' })).toEqual(['stdout']);
    expect(channelsCutBySsm({ stdout: '', stderr: 'e'.repeat(8_000) })).toEqual(['stderr']);
  });

  it('counts the limit in UTF-8 bytes, as the SSM Agent does', () => {
    expect(channelsCutBySsm({ stdout: 'é'.repeat(12_000), stderr: '' })).toEqual(['stdout']);
  });

  it('takes output ending in the agent’s truncation mark as cut', () => {
    expect(channelsCutBySsm({ stdout: `partial${SSM_TRUNCATED_SUFFIX}`, stderr: '' })).toEqual(['stdout']);
  });
});

describe('showAttempt', () => {
  it('replaces a cut channel by the full text read from its stream', () => {
    const shown = showAttempt(attempt({ stdout: cutStdout, fullOutput: location }), {
      stdout: { kind: 'text', text: fullStdout },
    });

    expect(shown.stdout).toBe(fullStdout);
    expect(shown.cut).toBeUndefined();
  });

  it('accepts a stream without the trailing line break and truncation mark SSM’s text has', () => {
    const inline = `${'o'.repeat(23_979)}\n${SSM_TRUNCATED_SUFFIX}`;
    const shown = showAttempt(attempt({ stdout: inline, fullOutput: location }), {
      stdout: { kind: 'text', text: 'o'.repeat(23_979) },
    });

    expect(shown.cut).toBeUndefined();
  });

  it('keeps a cut channel as SSM returned it, and says why, when its stream does not exist', () => {
    const shown = showAttempt(attempt({ stdout: cutStdout, fullOutput: location }), {
      stdout: { kind: 'missing' },
    });

    expect(shown.stdout).toBe(cutStdout);
    expect(shown.cut).toEqual([
      { channel: 'stdout', reason: expect.stringContaining('CommandOutputPolicyArn') },
    ]);
  });

  it('says why when the stream could not be read', () => {
    const shown = showAttempt(attempt({ stderr: 'e'.repeat(8_000), fullOutput: location }), {
      stderr: { kind: 'failed', reason: 'AccessDeniedException' },
    });

    expect(shown.cut).toEqual([
      { channel: 'stderr', reason: expect.stringContaining('AccessDeniedException') },
    ]);
  });

  it('does not take a stream holding less than SSM returned as the full text', () => {
    const shown = showAttempt(attempt({ stdout: cutStdout, fullOutput: location }), {
      stdout: { kind: 'text', text: 'o'.repeat(1_000) },
    });

    expect(shown.stdout).toBe(cutStdout);
    expect(shown.cut).toEqual([{ channel: 'stdout', reason: expect.stringContaining('holds less') }]);
  });

  it('marks a cut channel whose stream was never recorded', () => {
    const shown = showAttempt(attempt({ stdout: cutStdout }), {});

    expect(shown.cut).toEqual([{ channel: 'stdout', reason: expect.stringContaining('no CloudWatch Logs') }]);
  });

  it('leaves output SSM did not cut as it is', () => {
    expect(showAttempt(attempt(), {})).toEqual(attempt());
  });
});

describe('formatSubtaskLog', () => {
  it('shows every attempt, oldest first, and is not truncated when every output is whole', () => {
    const view = formatSubtaskLog([
      attempt({ attempt: 1, exitCode: 1, stdout: 'first\n', stderr: 'boom' }),
      attempt({ attempt: 2, commandId: 'cmd-2', stdout: 'second\n' }),
    ]);

    expect(view.truncated).toBe(false);
    expect(view.log).toMatch(
      /attempt 1 .*exit code 1[\s\S]*first[\s\S]*--- stderr ---\nboom[\s\S]*attempt 2 [\s\S]*second/,
    );
    expect(view.log).not.toContain('truncated');
  });

  it('is truncated, with a note after the cut text, when a full text is not available', () => {
    const shown = showAttempt(attempt({ stdout: cutStdout, fullOutput: location }), {
      stdout: { kind: 'missing' },
    });

    const view = formatSubtaskLog([shown]);

    expect(view.truncated).toBe(true);
    expect(view.log).toContain(
      `${cutStdout}\n[stdout truncated: SSM cut it at 24,000 characters, and its full text is not available: /ocp/command-output has no stream of it`,
    );
  });
});
