import { describe, expect, it } from 'vitest';
import { commandTimeouts } from '#core/command-timeouts';
import {
  checkedScriptWaits,
  SCRIPT_RESERVE_SECONDS,
  type ScriptWaits,
  worstCaseWaitSeconds,
} from '#core/script-waits';
import { RESTART_SUBTASKS, type SubtaskKey } from '#core/subtasks';

function waitsOf(key: SubtaskKey): ScriptWaits {
  return RESTART_SUBTASKS.find((subtask) => subtask.key === key)!.scriptWaits;
}

describe('the subtasks’ script waits', () => {
  it.each(RESTART_SUBTASKS.map((subtask) => [subtask.key, subtask] as const))(
    '%s: every wait its script can perform, plus the reserve, fits its execution timeout',
    (_, subtask) => {
      const { stopGraceSeconds = 0, killWaitSeconds = 0, startWaitSeconds = 0 } = subtask.scriptWaits;
      const { executionTimeoutSeconds } = commandTimeouts(subtask.timeoutSeconds);

      expect(
        stopGraceSeconds + killWaitSeconds + startWaitSeconds + SCRIPT_RESERVE_SECONDS,
      ).toBeLessThanOrEqual(executionTimeoutSeconds);
      expect(checkedScriptWaits(subtask.timeoutSeconds, subtask.scriptWaits)).toBe(subtask.scriptWaits);
    },
  );

  it('gives restart pos proxy a stop and a start that fit its 20 s', () => {
    expect(waitsOf('restartPosProxy')).toEqual({
      stopGraceSeconds: 5,
      killWaitSeconds: 2,
      startWaitSeconds: 10,
    });
    expect(commandTimeouts(60).executionTimeoutSeconds).toBe(20);
  });

  it('gives the stop and the start generous waits, and prepare and finish none', () => {
    expect(waitsOf('stopAgent')).toEqual({ stopGraceSeconds: 30, killWaitSeconds: 10 });
    expect(waitsOf('startAgent')).toEqual({ startWaitSeconds: 30 });
    expect(waitsOf('prepare')).toEqual({});
    expect(waitsOf('finish')).toEqual({});
  });
});

describe('worstCaseWaitSeconds', () => {
  it('adds up every wait given, a missing one counting nothing', () => {
    expect(worstCaseWaitSeconds({ stopGraceSeconds: 5, killWaitSeconds: 2, startWaitSeconds: 10 })).toBe(17);
    expect(worstCaseWaitSeconds({ startWaitSeconds: 30 })).toBe(30);
    expect(worstCaseWaitSeconds({})).toBe(0);
  });
});

describe('checkedScriptWaits', () => {
  it('refuses waits that, with the reserve, would outlast the execution timeout', () => {
    // The former defaults for every script: 50 s against the 20 s of a 60-s subtask.
    expect(() =>
      checkedScriptWaits(60, { stopGraceSeconds: 10, killWaitSeconds: 10, startWaitSeconds: 30 }),
    ).toThrow('Waits of 50 s plus a reserve of 2 s exceed the execution timeout of 20 s of a 60-s subtask');
    expect(() => checkedScriptWaits(60, { startWaitSeconds: 19 })).toThrow(RangeError);
  });

  it('accepts waits that fill the execution timeout to the reserve exactly', () => {
    expect(checkedScriptWaits(60, { startWaitSeconds: 18 })).toEqual({ startWaitSeconds: 18 });
  });

  it.each([0, -1, 2.5, Number.NaN])('refuses a wait of %s s', (seconds) => {
    expect(() => checkedScriptWaits(600, { stopGraceSeconds: seconds })).toThrow(
      /stopGraceSeconds must be a whole number of at least 1 s/,
    );
  });
});
