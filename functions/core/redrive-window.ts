/**
 * Step Functions redrives a failed Standard execution only within 14 days of its end
 * (RedriveExecution; later it answers ExecutionNotRedrivable). Retry and skip resume a task by
 * redriving its execution, so they work only within this window.
 */
export const REDRIVE_WINDOW_DAYS = 14;

const REDRIVE_WINDOW_MS = REDRIVE_WINDOW_DAYS * 24 * 60 * 60 * 1000;

/** True while an execution that ended at `endedAt` can still be redriven at `now`. */
export function isWithinRedriveWindow(endedAt: Date, now: Date): boolean {
  return now.getTime() - endedAt.getTime() < REDRIVE_WINDOW_MS;
}
