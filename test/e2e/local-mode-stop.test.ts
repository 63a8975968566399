import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createDemoHost, isLiveProcess, setDemoMode } from '../../local/demo-hosts.ts';
import { loadOrCreateSigningKey, signLocalToken } from '../../local/jwt.ts';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../../local/local-system.ts';
import { eventually, startTestSystem, tokenFor } from '../support/local-client.ts';

const REPO = resolve(__dirname, '..', '..');
const SCRIPT_ARG = /\/local-ssm-[^/]+\/_script\.sh$/;

/** The running command scripts of a demo host: their pids and the temporary folders they run from. */
function commandScriptsIn(hostDir: string): { pid: number; folder: string }[] {
  const scripts: { pid: number; folder: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== hostDir) continue;
      const script = readFileSync(`/proc/${entry}/cmdline`, 'latin1')
        .split('\0')
        .find((arg) => SCRIPT_ARG.test(arg));
      if (script) scripts.push({ pid: Number(entry), folder: dirname(script) });
    } catch {
      // The process ended meanwhile.
    }
  }
  return scripts;
}

/** Restarts host 1 in hang-stop mode: its "Stop all OCP agent processes" command runs for an hour. */
async function startLongCommand(apiUrl: string, token: string, hostDir: string) {
  const response = await fetch(`${apiUrl}/compute/hosts/1/agent/restart`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  expect(response.status).toBe(200);
  let running: { pid: number; folder: string }[] = [];
  await eventually(() => {
    running = commandScriptsIn(hostDir).filter(({ folder }) =>
      readFileSync(join(folder, '_script.sh'), 'utf8').includes('SCRIPT_NAME=stop-agent'),
    );
    return running.length > 0;
  }, 'the long command on host 1');
  expect(running.every(({ folder }) => existsSync(folder))).toBe(true);
  return running;
}

let child: ChildProcess | undefined;
const stateDirs: string[] = [];

afterEach(() => {
  if (child?.exitCode === null && child.pid) process.kill(child.pid, 'SIGKILL');
  child = undefined;
  for (const dir of stateDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('stopping local mode while a command runs', () => {
  it('leaves no local-ssm folder and no command process behind (stop())', async () => {
    const system = await startTestSystem({ demoHosts: 1 });
    const host = system.hosts[0]!;
    setDemoMode(host, 'hang-stop');
    let running: { pid: number; folder: string }[] = [];
    try {
      running = await startLongCommand(
        system.apiUrl,
        await tokenFor(system, 'ops', ['HOST_MANAGER']),
        host.hostDir,
      );
    } finally {
      await system.stop();
    }

    for (const { pid, folder } of running) {
      expect(existsSync(folder), folder).toBe(false);
      expect(isLiveProcess(pid), `pid ${pid}`).toBe(false);
    }
  });

  it('leaves no local-ssm folder and no command process behind when npm start gets Ctrl-C', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'ocp-ctrl-c-'));
    stateDirs.push(stateDir);
    const hostDir = join(stateDir, 'hosts', 'host-1');
    child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
      cwd: REPO,
      env: {
        ...process.env,
        OCP_LOCAL_DIR: stateDir,
        PORT: '0',
        DEMO_HOSTS: '3',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk) => (output += chunk));
    child.stderr?.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((done) => child!.once('exit', (code) => done(code)));
    await eventually(
      () => existsSync(join(stateDir, ENDPOINTS_FILE)) && /is running locally/.test(output),
      'local mode',
      90_000,
    );
    const endpoints = JSON.parse(readFileSync(join(stateDir, ENDPOINTS_FILE), 'utf8')) as LocalEndpoints;
    setDemoMode(createDemoHost(join(stateDir, 'hosts'), 1), 'hang-stop');
    const token = await signLocalToken(
      { user: 'ops', permissions: ['HOST_MANAGER'] },
      await loadOrCreateSigningKey(stateDir),
    );
    const running = await startLongCommand(endpoints.apiUrl, token, hostDir);

    child.kill('SIGINT');

    expect(await exited, output).toBe(0);
    for (const { pid, folder } of running) {
      expect(existsSync(folder), folder).toBe(false);
      expect(isLiveProcess(pid), `pid ${pid}`).toBe(false);
    }
  });
});
