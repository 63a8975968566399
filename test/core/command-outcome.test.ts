import { describe, expect, it } from 'vitest';
import { describeCommandFailure } from '#core/command-outcome';

describe('describeCommandFailure', () => {
  it('names the exit code and the last lines of stderr', () => {
    expect(describeCommandFailure('Failed', 4, 'a\nb\nc\nd\ne\nf\n', '')).toBe(
      'Subtask failed: the command exited with code 4: b | c | d | e | f',
    );
  });

  it('falls back to stdout when stderr is empty', () => {
    expect(describeCommandFailure('Failed', 2, '', 'missing ctl')).toMatch(/code 2: missing ctl$/);
  });

  it('says the host never received a command that SSM could not deliver', () => {
    expect(describeCommandFailure('TimedOut', -1, '', '', 'DeliveryTimedOut')).toMatch(
      /did not receive the command/,
    );
    expect(describeCommandFailure('Undeliverable', -1, '', '')).toMatch(/did not receive the command/);
  });

  it('distinguishes a command that timed out or was cancelled on the host', () => {
    expect(describeCommandFailure('TimedOut', 137, '', '', 'ExecutionTimedOut')).toMatch(
      /timed out on the host\.$/,
    );
    expect(describeCommandFailure('Cancelled', 137, '', '')).toMatch(/was cancelled\.$/);
  });
});
