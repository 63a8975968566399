// Installs what the two README commands need on a fresh machine: npm packages (when missing or
// older than the lockfile), a Java runtime for DynamoDB Local and, with --browser (the tests), the
// Chromium the console's browser tests drive (both from Debian's apt when missing).
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';

/** Where the console's browser tests look for Chromium (test/support/browser.ts). */
const CHROMIUM = '/usr/bin/chromium';

const marker = 'node_modules/.package-lock.json';
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync('package-lock.json').mtimeMs) {
  console.log('Installing npm packages (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { stdio: 'inherit' });
}

if (spawnSync('java', ['-version'], { stdio: 'ignore' }).status !== 0) {
  if (process.getuid?.() !== 0) {
    console.error(
      'DynamoDB Local needs Java 17 or newer: install a JRE (e.g. apt-get install openjdk-17-jre-headless).',
    );
    process.exit(1);
  }
  console.log('Installing a Java runtime for DynamoDB Local (apt-get)…');
  execSync(
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless',
    {
      stdio: 'inherit',
    },
  );
}

if (process.argv.includes('--browser') && !existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    console.error(`The console's browser tests need Chromium at ${CHROMIUM}: apt-get install chromium.`);
    process.exit(1);
  }
  console.log('Installing Chromium for the console’s browser tests (apt-get)…');
  execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium', {
    stdio: 'inherit',
  });
}
