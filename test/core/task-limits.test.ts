import { describe, expect, it } from 'vitest';
import { describeCommandFailure, describeTimedOutSubtask } from '#core/command-outcome';
import { boundedError, MAX_SUBTASK_ERROR_LENGTH } from '#core/task-limits';
import { describeWorkflowError } from '#core/workflow-error';

/** SSM's limit on the output GetCommandInvocation returns, per channel. */
const SSM_OUTPUT_LIMIT = 24_000;
/** Step Functions' limit on an error's cause. */
const CAUSE_LIMIT = 32_768;

describe('boundedError', () => {
  it('keeps a short error as it is', () => {
    expect(boundedError('Subtask failed: the command exited with code 1: no such file')).toBe(
      'Subtask failed: the command exited with code 1: no such file',
    );
  });

  it('cuts the middle of a long error, keeping its start and its end', () => {
    const error = `Subtask failed: ${'a'.repeat(2000)}${'z'.repeat(2000)} the last words`;
    const bounded = boundedError(error);
    expect(bounded).toHaveLength(MAX_SUBTASK_ERROR_LENGTH);
    expect(bounded).toMatch(/^Subtask failed: a+ … z+ the last words$/);
  });

  it('cuts to a shorter bound when given one, in the same proportions', () => {
    const bounded = boundedError(`${'a'.repeat(500)}${'z'.repeat(500)}`, 100);
    expect(bounded).toHaveLength(100);
    expect(bounded).toBe(`${'a'.repeat(60)} … ${'z'.repeat(37)}`);
  });

  it('writes control characters as spaces and mends lone surrogates', () => {
    expect(boundedError('a\u0000b\u001b[31mc\td\u007f \ud800 🙂')).toBe('a b [31mc d  \ufffd 🙂');
  });
});

describe('errors recorded on a subtask', () => {
  const output = (seed: string) => `${seed.repeat(SSM_OUTPUT_LIMIT / seed.length)}`;

  it('are bounded for a failed command, whatever its output', () => {
    const error = describeCommandFailure('Failed', 1, `${output('"\\')}`, '');
    expect(error.length).toBeLessThanOrEqual(MAX_SUBTASK_ERROR_LENGTH);
    expect(error).toMatch(/^Subtask failed: the command exited with code 1: /);
  });

  it('are bounded for a timed-out command, whatever its output', () => {
    const error = describeTimedOutSubtask(60, {
      commandId: 'c',
      instanceId: 'i',
      status: 'Failed',
      exitCode: 2,
      stdout: output('x\n'),
      stderr: '',
    });
    expect(error.length).toBeLessThanOrEqual(MAX_SUBTASK_ERROR_LENGTH);
    expect(error).toMatch(/^Subtask failed: it did not finish within its timeout of 60 s: /);
  });

  it('are bounded for an error the workflow caught, whatever its cause', () => {
    const cause = JSON.stringify({ errorMessage: 'm'.repeat(CAUSE_LIMIT) });
    expect(describeWorkflowError('Lambda.Unknown', cause, 0).length).toBeLessThanOrEqual(
      MAX_SUBTASK_ERROR_LENGTH,
    );
    expect(describeWorkflowError('SubtaskFailed', 'e'.repeat(CAUSE_LIMIT), 0).length).toBe(
      MAX_SUBTASK_ERROR_LENGTH,
    );
  });
});
