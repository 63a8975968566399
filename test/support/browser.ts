import { type Browser, chromium } from 'playwright-core';

/** Debian's Chromium, installed by scripts/ensure-installed.mjs --browser (npm test's pretest). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** A headless Chromium for the console's browser tests and benchmark; close it when done. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    // Containers often have a small /dev/shm and no user namespaces for Chromium's sandbox.
    args: ['--disable-dev-shm-usage', '--no-sandbox'],
  });
}
