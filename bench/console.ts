import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConsole } from '../console/build.ts';
import { loadOrCreateSigningKey, signLocalToken } from '../local/jwt.ts';
import { startLocalSystem } from '../local/local-system.ts';
import { launchBrowser } from '../test/support/browser.ts';
import type { BenchContext } from './context.ts';
import type { Figure, PartResult } from './report.ts';
import { machineInfo, median, round, sleep, sum } from './stats.ts';

/** Page loads timed, each in a fresh browser context (cold cache, no session). */
const LOADS = 10;
/** Tasks in the list the timed page renders (its first page shows up to 20). */
const TASKS = 12;
const JS_BUDGET_BYTES = 40_000;
const FIRST_RENDER_BUDGET_MS = 1_000;

/** Reads a performance mark of the page, in ms since its navigation started. */
const MARK_SCRIPT = (name: string) =>
  `new Promise((resolve) => { const look = () => { const [mark] = performance.getEntriesByName(${JSON.stringify(name)}); if (mark) resolve(mark.startTime); else setTimeout(look, 5); }; look(); })`;

/**
 * The console's weight and speed: its built files raw and gzipped, and how long a cold load takes to
 * draw the sign-in screen and, signed in with local mode's one click, the task list with its data.
 */
export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const outDir = mkdtempSync(join(tmpdir(), 'ocp-bench-console-'));
  const buildStarted = performance.now();
  const { files } = await buildConsole(outDir);
  const buildMs = performance.now() - buildStarted;
  rmSync(outDir, { recursive: true, force: true });

  const stateDir = mkdtempSync(join(tmpdir(), 'ocp-bench-console-state-'));
  const system = await startLocalSystem({
    stateDir,
    persist: false,
    apiPort: 0,
    demoHosts: 3,
    demoMode: 'fast',
  });
  const browser = await launchBrowser();
  const signIn: number[] = [];
  const taskList: number[] = [];
  try {
    const token = await signLocalToken(
      { user: 'bench', permissions: ['HOST_MANAGER', 'TASK_VIEWER'] },
      await loadOrCreateSigningKey(system.signingKeyDir),
    );
    for (let i = 0; i < TASKS; i++) {
      const hostId = (i % 3) + 1;
      for (;;) {
        const answer = await fetch(`${system.apiUrl}/compute/hosts/${hostId}/agent/restart`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        });
        if (answer.status === 200) break;
        await sleep(200); // the host's previous restart still holds it
      }
    }
    for (let i = 0; i < LOADS + 1; i++) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${system.apiUrl}/console`);
      const signInMs = (await page.evaluate(MARK_SCRIPT('console:sign-in-rendered'))) as number;
      await page.getByRole('button', { name: 'Sign in locally' }).click();
      const listMs = (await page.evaluate(MARK_SCRIPT('console:task-list-rendered'))) as number;
      const rows = await page.locator('table.tasks tbody tr').count();
      if (rows === 0) throw new Error('The task list rendered no task');
      await page.context().close();
      if (i === 0) continue; // the first load warms local mode's API, not the browser's cache
      signIn.push(signInMs);
      taskList.push(listMs);
      context.log(
        `console: load ${i} of ${LOADS}: sign-in ${Math.round(signInMs)} ms, task list ${Math.round(listMs)} ms`,
      );
    }
  } finally {
    await browser.close();
    await system.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  const script = files.find((file) => file.name === 'console.js')!;
  const figures: Figure[] = [
    {
      name: 'console.js, minified',
      value: round(script.bytes / 1000, 1),
      unit: 'KB',
      budget: { max: JS_BUDGET_BYTES / 1000 },
    },
    { name: 'all files, gzip', value: round(sum(files.map((file) => file.gzipBytes)) / 1000, 1), unit: 'KB' },
    { name: 'build time', value: Math.round(buildMs), unit: 'ms' },
    { name: 'first render: sign-in screen (median)', value: Math.round(median(signIn)), unit: 'ms' },
    {
      name: 'first render: task list with data (median)',
      value: Math.round(median(taskList)),
      unit: 'ms',
      budget: { max: FIRST_RENDER_BUDGET_MS },
    },
  ];
  return {
    id: 'console',
    title: 'Web console: bundle size and time to first render',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
\`console/build.ts\` bundles the console (esbuild: bundle, minify, ES2022 module, no source map); its files
are measured raw and gzipped (level 9). Then a local system of its own (3 demo hosts, ${TASKS} restart tasks)
serves it, and headless Chromium (Debian's, through playwright-core) loads \`/console\` ${LOADS} times after
one warm-up load, each time in a fresh browser context (empty cache, no session). Times are the page's own
performance marks, from navigation start: the sign-in screen drawn (the page, its script and style, and
\`/console/config.json\`), and, after automation clicks "Sign in locally" as soon as it shows, the task list
drawn with its first page of tasks (two more API calls: the local sign-in and the task listing).
`,
    details: [
      [
        '| file | bytes | gzip bytes |',
        '| --- | --- | --- |',
        ...files.map((file) => `| ${file.name} | ${file.bytes} | ${file.gzipBytes} |`),
        `| total | ${sum(files.map((file) => file.bytes))} | ${sum(files.map((file) => file.gzipBytes))} |`,
      ].join('\n'),
      `
A figure over its budget here is read with the load average above: local mode's API, DynamoDB Local and
Chromium share the machine's cores with whatever else runs. The page's own work is one 28 KB script and
one render per page; the task list's time adds the automated click and two API calls, served on the same
cores.
`,
      `Loads (ms, sign-in screen / task list): ${signIn.map((value, i) => `${Math.round(value)} / ${Math.round(taskList[i]!)}`).join(', ')}.`,
    ],
  };
}
