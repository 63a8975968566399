import { describe, expect, it } from 'vitest';
import {
  CALLBACK_MARGIN_SECONDS,
  commandTimeouts,
  MIN_DELIVERY_TIMEOUT_SECONDS,
} from '#core/command-timeouts';
import { RESTART_SUBTASKS } from '#core/subtasks';

describe('commandTimeouts', () => {
  it('fits delivery, execution and the callback margin within every subtask’s timeout', () => {
    for (const subtask of RESTART_SUBTASKS) {
      const { deliveryTimeoutSeconds, executionTimeoutSeconds } = commandTimeouts(subtask.timeoutSeconds);

      expect(deliveryTimeoutSeconds + executionTimeoutSeconds + CALLBACK_MARGIN_SECONDS).toBe(
        subtask.timeoutSeconds,
      );
      expect(executionTimeoutSeconds).toBeGreaterThan(0);
    }
  });

  it('gives delivery the smallest timeout SendCommand accepts and the rest to the script', () => {
    expect(commandTimeouts(60)).toEqual({ deliveryTimeoutSeconds: 30, executionTimeoutSeconds: 20 });
    expect(commandTimeouts(600)).toEqual({ deliveryTimeoutSeconds: 30, executionTimeoutSeconds: 560 });
    expect(MIN_DELIVERY_TIMEOUT_SECONDS).toBe(30);
  });

  it('refuses a subtask timeout that leaves the script no time, or is not whole seconds', () => {
    expect(() => commandTimeouts(40)).toThrow(RangeError);
    expect(() => commandTimeouts(60.5)).toThrow(/whole number of at least 41 s/);
    expect(commandTimeouts(41).executionTimeoutSeconds).toBe(1);
  });
});
