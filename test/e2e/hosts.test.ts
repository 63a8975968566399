import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addedDemoHostIds, DEMO_CONTROL_FILE } from '../../local/demo-control.ts';
import { demoAgentProcesses, demoInstanceId, demoMode, setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { call, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

const REPO = resolve(__dirname, '..', '..');
const stateDir = mkdtempSync(join(tmpdir(), 'ocp-e2e-hosts-'));
let system: LocalSystem;
let viewer: string;
let operator: string;

beforeAll(async () => {
  system = await startTestSystem({ stateDir, demoHosts: 4, demoMode: 'fast' });
  viewer = await tokenFor(system, 'victor', ['HOST_VIEWER']);
  operator = await tokenFor(system, 'alice', ['HOST_MANAGER', 'TASK_MANAGER']);
});

afterAll(async () => {
  await system?.stop();
});

const idsOf = (data: { contents: { id: number }[] }) => data.contents.map((host) => host.id);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run demo -- <args>` as a child process, finding local mode through OCP_LOCAL_DIR. */
function demo(args: string[], localDir = stateDir): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/demo-cli.ts', ...args], {
      cwd: REPO,
      env: { ...process.env, OCP_LOCAL_DIR: localDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

describe('the hosts API in local mode, over HTTP', () => {
  it('lists the demo hosts in OCP’s page envelope with their registration', async () => {
    const { status, envelope } = await call(system, 'GET', '/api/v2/compute/hosts', viewer);

    expect(status).toBe(200);
    expect(envelope.data.page).toEqual({ totalElements: 4, totalPages: 1, number: 1, size: 10 });
    expect(idsOf(envelope.data)).toEqual([1, 2, 3, 4]);
    expect(envelope.data.contents[1]).toEqual({
      id: 2,
      name: 'demo-host-2',
      instanceId: system.hosts[1]!.instanceId,
      agentHome: system.hosts[1]!.agentHome,
      controlScript: 'bin/ocp_agentctl',
      busy: false,
      runningTaskId: null,
    });
  });

  it('pages and filters by id (several ids as a list, or the parameter repeated)', async () => {
    const page = await call(system, 'GET', '/api/v2/compute/hosts?page=2&size=3', viewer);
    const listed = await call(system, 'GET', '/api/v2/compute/hosts?id=4,1', viewer);
    const repeated = await call(system, 'GET', '/api/v2/compute/hosts?id=3&id=2&id=404', viewer);

    expect(idsOf(page.envelope.data)).toEqual([4]);
    expect(page.envelope.data.page).toEqual({ totalElements: 4, totalPages: 2, number: 2, size: 3 });
    expect(idsOf(listed.envelope.data)).toEqual([1, 4]);
    expect(idsOf(repeated.envelope.data)).toEqual([2, 3]);
  });

  it('shows a host busy with the task restarting it, and free again once it ended', async () => {
    // Its stop hangs (its processes ignore SIGTERM): the task runs until its subtask is cancelled.
    setDemoMode(system.hosts[2]!, 'hang-stop');
    const { envelope: started } = await call(system, 'POST', '/compute/hosts/3/agent/restart', operator);
    const taskId = started.data.id;

    const listed = await call(system, 'GET', '/api/v2/compute/hosts?id=3,4', viewer);
    const single = await call(system, 'GET', '/api/v2/compute/hosts/3', viewer);

    expect(listed.envelope.data.contents).toMatchObject([
      { id: 3, busy: true, runningTaskId: taskId },
      { id: 4, busy: false, runningTaskId: null },
    ]);
    expect(single.envelope.data).toMatchObject({ id: 3, busy: true, runningTaskId: taskId });
    const stopping = await waitForTask(
      system,
      operator,
      taskId,
      (task) => task.subtasks[2].status === 'RUNNING',
    );
    await call(
      system,
      'POST',
      `/api/v2/tasks/instances/${taskId}/subtasks/${stopping.subtasks[2].id}/cancel`,
      operator,
    );
    expect((await waitForTask(system, operator, taskId)).status).toBe('FAILED');
    setDemoMode(system.hosts[2]!, 'fast');
    const after = await call(system, 'GET', '/api/v2/compute/hosts/3', viewer);
    expect(after.envelope.data).toMatchObject({ busy: false, runningTaskId: null });
  });

  it('answers 404 / 10002 for an unknown host and 400 / 10001 naming a bad parameter', async () => {
    const unknown = await call(system, 'GET', '/api/v2/compute/hosts/404', viewer);
    const badSize = await call(system, 'GET', '/api/v2/compute/hosts?size=101', viewer);
    const badId = await call(system, 'GET', '/api/v2/compute/hosts?id=1,two', viewer);

    expect(unknown.status).toBe(404);
    expect(unknown.envelope.error).toMatchObject({ code: 10002, message: 'Host 404 does not exist.' });
    expect(badSize.status).toBe(400);
    expect(badSize.envelope.error).toMatchObject({ code: 10001, target: 'size' });
    expect(badId.envelope.error).toMatchObject({ code: 10001, target: 'id' });
  });

  it('refuses 401 without a token and 403 to a caller with neither HOST_VIEWER nor HOST_MANAGER', async () => {
    const taskViewer = await tokenFor(system, 'tom', ['TASK_VIEWER', 'TASK_MANAGER']);
    for (const path of ['/api/v2/compute/hosts', '/api/v2/compute/hosts/1']) {
      const anonymous = await call(system, 'GET', path);
      const refused = await call(system, 'GET', path, taskViewer);
      expect(anonymous.status, path).toBe(401);
      expect(refused.status, path).toBe(403);
      expect(refused.envelope.error).toMatchObject({ code: 30014 });
    }
  });
});

describe('npm run demo, against the running local mode', () => {
  it('adds a demo host that is listed at once and can be restarted SUCCESSFUL', async () => {
    const run = await demo(['add-host']);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^demo host 5 added \(mi-0+5, mode normal\) at \S+host-5\/ocp_agent\n$/);
    const listed = await call(system, 'GET', '/api/v2/compute/hosts/5', viewer);
    expect(listed.envelope.data).toMatchObject({ id: 5, name: 'demo-host-5', busy: false });
    const before = demoAgentProcesses(system.hosts.find((host) => host.hostId === 5)!);
    expect(before.every((process) => process.running)).toBe(true);

    const { envelope } = await call(system, 'POST', '/compute/hosts/5/agent/restart', operator);
    expect((await waitForTask(system, operator, envelope.data.id)).status).toBe('SUCCESSFUL');
  });

  it('sets a demo host’s mode: broken, a restart FAILS; back to fast, it succeeds', async () => {
    const broken = await demo(['mode', '5', 'broken']);
    expect(broken).toMatchObject({ code: 0, stdout: 'demo host 5 is now in mode broken\n' });

    const failed = await call(system, 'POST', '/compute/hosts/5/agent/restart', operator);
    const task = await waitForTask(system, operator, failed.envelope.data.id);
    expect(task.status).toBe('FAILED');

    expect((await demo(['mode', '5', 'fast'])).code).toBe(0);
    const again = await call(system, 'POST', '/compute/hosts/5/agent/restart', operator);
    expect((await waitForTask(system, operator, again.envelope.data.id)).status).toBe('SUCCESSFUL');
  });

  it('adds a host under a chosen id and mode, and lists the demo hosts with their modes', async () => {
    const added = await demo(['add-host', '--id', '42', '--mode', 'fast']);
    const hosts = await demo(['hosts']);

    expect(added.code).toBe(0);
    expect(demoMode(system.hosts.find((host) => host.hostId === 42)!)).toBe('fast');
    expect(hosts.stdout.trim().split('\n').at(-1)).toBe(`42\t${demoInstanceId(42)}\tfast`);
    expect(hosts.stdout.trim().split('\n')).toHaveLength(6);
  });

  it.each([
    [['add-host', '--id', '42'], /Demo host 42 exists already/],
    [
      ['add-host', '--mode', 'sleepy'],
      /Invalid mode: .*\(one of normal, fast, broken, hang-stop, stubborn, verbose\)/,
    ],
    [['mode', '77', 'fast'], /Host 77 is not a demo host of this local mode/],
    [['mode', '5', 'sleepy'], /Invalid mode/],
  ])('refuses %j with exit code 1 and the reason, changing nothing', async (args, reason) => {
    const before = (await call(system, 'GET', '/api/v2/compute/hosts?size=100', viewer)).envelope.data;

    const run = await demo(args);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(reason);
    expect((await call(system, 'GET', '/api/v2/compute/hosts?size=100', viewer)).envelope.data).toEqual(
      before,
    );
    expect(demoMode(system.hosts.find((host) => host.hostId === 5)!)).toBe('fast');
  });

  it.each([[[]], [['mode', '5']], [['mode', 'x', 'fast']], [['add-host', '--id', '0']], [['remove-host']]])(
    'prints its usage for %j and exits 2',
    async (args) => {
      const run = await demo(args);

      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^Usage \(with npm start running\):/);
    },
  );

  it('says local mode is not running when no control file is there', async () => {
    const run = await demo(['hosts'], mkdtempSync(join(tmpdir(), 'ocp-no-local-')));

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/Local mode is not running: start it with `npm start` first/);
  });

  it('answers only on 127.0.0.1 and only with the secret of its control file, readable by its user alone', async () => {
    const file = join(stateDir, DEMO_CONTROL_FILE);
    const { url, secret } = JSON.parse(readFileSync(file, 'utf8')) as { url: string; secret: string };

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(new URL(url).hostname).toBe('127.0.0.1');
    const without = await fetch(`${url}/demo/hosts`, { method: 'POST', body: '{}' });
    const wrong = await fetch(`${url}/demo/hosts`, { headers: { authorization: `Bearer ${secret}x` } });
    const right = await fetch(`${url}/demo/hosts`, { headers: { authorization: `Bearer ${secret}` } });
    expect([without.status, wrong.status, right.status]).toEqual([401, 401, 200]);
    expect(system.hosts.map((host) => host.hostId)).not.toContain(43);
  });

  it('records the added hosts, for local mode to bring back at its next start in this state folder', () => {
    // (A second local mode cannot start in this process: the handlers' clients keep the first one's endpoints.)
    expect(addedDemoHostIds(stateDir)).toEqual([5, 42]);
  });
});
