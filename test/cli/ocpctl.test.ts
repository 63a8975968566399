import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDemoMode } from '../../local/demo-hosts.ts';
import { freePort } from '../../local/free-port.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

const REPO = resolve(__dirname, '..', '..');
const LAUNCHER = join(REPO, 'bin', 'ocpctl.mjs');
/** Where an ANSI escape sequence (cursor moves, erasing) starts. */
const ANSI = '\x1b[';

let system: LocalSystem;
let operator: string;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 4, demoMode: 'fast' });
  operator = await tokenFor(system, 'alice', ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER']);
});

afterAll(async () => {
  await system?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment the CLI sees: none of the caller's OCP settings, nor npm's (npx would change its hints). */
function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const name of ['OCP_API_URL', 'OCP_TOKEN', 'OCP_LOCAL_DIR', 'npm_command']) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Runs the real CLI (its bin launcher) as a child process, its stdout a pipe (no TTY). */
function ocpctl(
  args: string[],
  options: { token?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const target = options.env ? [] : ['--api', system.apiUrl, '--token', options.token ?? operator];
  return runProcess(process.execPath, [LAUNCHER, ...target, ...args], cliEnv(options.env));
}

/** Runs the CLI under a pseudo-terminal of 40 × 120 (util-linux script), as an operator's shell would. */
function ocpctlOnTty(args: string[]): Promise<Run> {
  const line = [process.execPath, LAUNCHER, '--api', system.apiUrl, '--token', operator, ...args]
    .map((arg) => `'${arg}'`)
    .join(' ');
  return runProcess('script', ['-qec', `stty rows 40 cols 120; ${line}`, '/dev/null'], cliEnv());
}

const lastTaskId = (stdout: string) => Number(/task (\d+) RUNNING/.exec(stdout)?.[1]);

describe('ocpctl against local mode', () => {
  it('restart --follow prints one plain line per change and ends SUCCESSFUL with exit code 0', async () => {
    const run = await ocpctl(['restart', '1', '--follow']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(ANSI);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d task \d+ RUNNING \(operation EXECUTE\)$/);
    expect(run.stdout).toMatch(
      /task \d+ subtask \d+ "Finish OCP agent operation" SUCCESSFUL · attempt 1 · \d+\.\d s/,
    );
    expect(lines.at(-1)).toMatch(
      /^Task \d+ ended SUCCESSFUL in \d+\.\d s, operation EXECUTE: host 1's agent restarted$/,
    );
  });

  it('a broken host exits 1 with the failed subtask’s log tail and the command that retries it, which works', async () => {
    const host = system.hosts[1]!;
    setDemoMode(host, 'broken');
    const run = await ocpctl(['restart', '2', '--follow']);

    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(
      /task \d+ subtask \d+ "Restart pos proxy" FAILED · attempt 1 · \d+\.\d s: Subtask failed/,
    );
    expect(run.stdout).toMatch(/Task \d+ ended FAILED/);
    expect(run.stdout).toMatch(/Failed at subtask \d+ "Restart pos proxy" \(attempt 1\)/);
    expect(run.stdout).toMatch(/--- last 20 lines of its log \(ocpctl --api \S+ task log \d+ \d+\) ---/);
    expect(run.stdout).toContain('=== attempt 1 · command ');
    expect(run.stdout).toContain('configuration check failed (demo mode "broken")');
    const taskId = lastTaskId(run.stdout);
    const retry = /^Retry it: (.+)$/m.exec(run.stdout)?.[1];
    expect(retry).toBe(`ocpctl --api ${system.apiUrl} task retry ${taskId} --follow`);

    setDemoMode(host, 'fast');
    const args = retry!.split(' ').slice(1);
    const retried = await ocpctl(['--token', operator, ...args], { env: {} });

    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain(`task ${taskId} RUNNING (operation RETRY)`);
    expect(retried.stdout).toMatch(/"Restart pos proxy" SUCCESSFUL · attempt 2/);
    expect(retried.stdout).toMatch(/ended SUCCESSFUL/);
  });

  it('--json prints the data as one object, and with --follow one JSON line per change then the end', async () => {
    const started = await ocpctl(['--json', 'restart', '3']);
    expect(started.code).toBe(0);
    const task = JSON.parse(started.stdout);
    expect(task).toMatchObject({ name: 'Restart OCP agent', hostId: 3, status: 'RUNNING' });
    await waitForTask(system, operator, task.id);

    const followed = await ocpctl(['--json', 'restart', '3', '--follow']);

    expect(followed.code).toBe(0);
    const lines = followed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ event: 'task', status: 'RUNNING', operation: 'EXECUTE' });
    expect(lines.some((line) => line.event === 'subtask' && line.status === 'SUCCESSFUL')).toBe(true);
    expect(lines.at(-1)).toMatchObject({
      event: 'end',
      status: 'SUCCESSFUL',
      exitCode: 0,
      task: { hostId: 3 },
    });

    const listed = await ocpctl(['--json', 'task', 'list', '--host', '3', '--size', '5']);
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject({ page: { totalElements: 2, number: 1, size: 5 } });
    const { task: followedTask } = lines.at(-1);
    const finish = followedTask.subtasks.at(-1);
    const log = await ocpctl(['task', 'log', String(followedTask.id), String(finish.id), '--attempt', '1']);
    expect(log.code).toBe(0);
    expect(log.stdout).toMatch(/^=== attempt 1 · command .* exit code 0/);
  });

  it('bad usage and input exit 2: an id the API refuses (400), an unknown task (404), arguments the CLI refuses', async () => {
    for (const args of [
      ['restart', 'abc'],
      ['task', 'get', '999999'],
      ['fleet', '1', 'x'],
      ['fleet', '1', '--max-concurrency', 'many'],
      ['task', 'frobnicate'],
      ['restart'],
      ['task', 'log', '1', '2', '--attempt', '7'],
    ]) {
      const run = await ocpctl(args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).not.toBe('');
    }
    const refused = await ocpctl(['--json', 'restart', 'abc']);
    expect(JSON.parse(refused.stdout)).toMatchObject({
      error: { httpStatus: 400, code: 10001 },
      exitCode: 2,
    });
  });

  it('a token without the permission, or no valid token, exits 3', async () => {
    const viewer = await tokenFor(system, 'bob', ['TASK_VIEWER']);
    const forbidden = await ocpctl(['restart', '1'], { token: viewer });
    expect(forbidden.code).toBe(3);
    expect(forbidden.stderr).toMatch(/HTTP 403 \/ 30014/);

    const unsigned = await ocpctl(['task', 'list'], { token: 'not-a-jwt' });
    expect(unsigned.code).toBe(3);
    expect(unsigned.stderr).toMatch(/HTTP 401/);
  });

  it('an API that cannot be reached, or no local mode to talk to, exits 4', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const closed = await ocpctl(['--api', nobody, '--token', operator, 'task', 'list'], { env: {} });
    expect(closed.code).toBe(4);
    expect(closed.stderr).toContain(`Cannot reach the API at ${nobody}: ECONNREFUSED`);

    const none = await ocpctl(['task', 'list'], {
      env: { OCP_LOCAL_DIR: mkdtempSync(join(tmpdir(), 'ocpctl-')) },
    });
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/no local mode found/);
  });

  it('with no --api nor token it talks to the running local mode and signs its own token', async () => {
    const run = await ocpctl(['agent', 'status', '1'], { env: { OCP_LOCAL_DIR: system.signingKeyDir } });

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^host 1: STARTED · 4 of 4 agent processes run\./);
    expect(run.stdout).toMatch(/ocp_agentd\s+yes\s+\d+/);
  });

  it('fleet --dry-run prints the plan and changes nothing', async () => {
    const run = await ocpctl(['fleet', '1', '3,4', '--max-concurrency', '2', '--dry-run']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Dry run: 3 hosts in 2 waves');
    expect(run.stdout).toMatch(/^4\s+start\s+2\s+Online/m);
    expect(run.stdout).toContain('Nothing was changed.');

    const unknown = await ocpctl(['fleet', '1', '99', '--dry-run']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toMatch(/^99\s+unknown/m);
  });

  it('fleet --follow reports each host as it ends, then the batch’s end', async () => {
    const run = await ocpctl(['fleet', '1', '3', '4', '--max-concurrency', '2', '--follow']);

    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(ANSI);
    for (const hostId of [1, 3, 4])
      expect(run.stdout).toMatch(new RegExp(`host ${hostId} SUCCESSFUL · task \\d+`));
    expect(run.stdout).toMatch(/3\/3 done/);
    expect(run.stdout).toMatch(/Task \d+ \(batch of 3 hosts\) ended SUCCESSFUL in .*: 3 SUCCESSFUL$/m);
  });

  it('a failing fleet exits 1, names the failing host and its error, and says how to retry the batch', async () => {
    setDemoMode(system.hosts[1]!, 'broken');
    try {
      const run = await ocpctl([
        'fleet',
        '1',
        '2',
        '--max-concurrency',
        '1',
        '--max-errors',
        '1',
        '--follow',
      ]);

      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/host 2 FAILED · task \d+ · at "Restart pos proxy"/);
      expect(run.stdout).toMatch(
        /Failed at subtask \d+ "Restart pos proxy" \(attempt 1\) of task \d+ \(host 2\)/,
      );
      expect(run.stdout).toContain('configuration check failed');
      expect(run.stdout).toMatch(/^Retry it: ocpctl --api \S+ task retry \d+ --follow$/m);
    } finally {
      setDemoMode(system.hosts[1]!, 'fast');
    }
  });

  it('on a terminal --follow repaints a live view: subtasks with attempt and time, then the summary', async () => {
    // Normal mode: its subtasks take seconds, so the view is drawn while one runs (fast mode may end
    // between two polls).
    setDemoMode(system.hosts[3]!, 'normal');
    let run: Awaited<ReturnType<typeof ocpctlOnTty>>;
    try {
      run = await ocpctlOnTty(['restart', '4', '--follow']);
    } finally {
      setDemoMode(system.hosts[3]!, 'fast');
    }

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\x1b[?25l'); // cursor hidden while the view repaints
    expect(run.stdout).toContain('\x1b[1A'); // cursor up: the view is repainted in place
    expect(run.stdout).toMatch(/▶ +\d+ \S.* RUNNING +attempt 1 +\d+\.\d s/);
    expect(run.stdout).toMatch(/✔ +\d+ Finish OCP agent operation +SUCCESSFUL +attempt 1/);
    expect(run.stdout).toMatch(/── output of subtask \d+ "Finish OCP agent operation" ──/);
    expect(run.stdout).toMatch(/Task \d+ ended SUCCESSFUL/);
  });

  it('on a terminal a fleet shows its progress bar and counts by status', async () => {
    const run = await ocpctlOnTty(['fleet', '1', '3', '4', '--max-concurrency', '1', '--follow']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\x1b[1A');
    expect(run.stdout).toMatch(/\[█*░+\] [0-2]\/3 hosts done/);
    expect(run.stdout).toMatch(/\[█{30}\] 3\/3 hosts done/);
    expect(run.stdout).toMatch(/SUCCESSFUL 3 · FAILED 0 · RUNNING 0/);
  });

  it('hosts list and hosts get print the hosts API’s page and host; an unknown host exits 2', async () => {
    const listed = await ocpctl(['hosts', 'list', '--size', '3']);
    const filtered = await ocpctl(['--json', 'hosts', 'list', '--id', '4,2']);
    const shown = await ocpctl(['hosts', 'get', '2']);
    const unknown = await ocpctl(['hosts', 'get', '404']);

    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+INSTANCEID\s+BUSY\s+RUNNINGTASKID$/);
    expect(lines.slice(1, 4).map((line) => line.split(/\s+/)[0])).toEqual(['1', '2', '3']);
    expect(lines[1]).toMatch(
      new RegExp(`^1\\s+demo-host-1\\s+${system.hosts[0]!.instanceId}\\s+(true|false)`),
    );
    expect(lines.at(-1)).toBe('page 1 of 2 · 4 in all');
    expect(JSON.parse(filtered.stdout).contents.map((host: { id: number }) => host.id)).toEqual([2, 4]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('id: 2\nname: demo-host-2\n');
    expect(shown.stdout).toContain(`agentHome: ${system.hosts[1]!.agentHome}\n`);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Host 404 does not exist.');
  });
});

describe('ocpctl stays out of the Lambda bundles', () => {
  it('no module under functions/ imports cli/', () => {
    const files = (function walk(dir: string): string[] {
      return readdirSync(dir).flatMap((name) => {
        const path = join(dir, name);
        return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
      });
    })(join(REPO, 'functions'));
    const importing = files.filter((file) => /from ['"][^'"]*\/cli\//.test(readFileSync(file, 'utf8')));
    expect(importing).toEqual([]);
  });
});
