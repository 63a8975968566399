import { describe, expect, it } from 'vitest';
import { isWithinRedriveWindow, REDRIVE_WINDOW_DAYS } from '#core/redrive-window';

const DAY = 86_400_000;

describe('isWithinRedriveWindow', () => {
  it('is open for 14 days after the execution ended, and closed from then on', () => {
    const ended = new Date('2026-11-01T10:00:00.000Z');

    expect(REDRIVE_WINDOW_DAYS).toBe(14);
    expect(isWithinRedriveWindow(ended, new Date(ended.getTime() + 14 * DAY - 1))).toBe(true);
    expect(isWithinRedriveWindow(ended, new Date(ended.getTime() + 14 * DAY))).toBe(false);
    expect(isWithinRedriveWindow(ended, new Date(ended.getTime() + 30 * DAY))).toBe(false);
  });
});
