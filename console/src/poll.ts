/** Calls `step` now and then every `intervalMs` while it returns true and the view is shown. */
export async function poll(
  intervalMs: number,
  signal: AbortSignal,
  step: () => Promise<boolean>,
): Promise<void> {
  while (!signal.aborted) {
    const started = Date.now();
    if (!(await step())) return;
    const wait = Math.max(0, intervalMs - (Date.now() - started));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wait);
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}

/** How often a view reads what it shows while it runs. */
export const LIVE_INTERVAL_MS = 1000;

/** How often a view reads an ended task, which an operator elsewhere may retry. */
export const ENDED_INTERVAL_MS = 10_000;
