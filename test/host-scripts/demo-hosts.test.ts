import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isValidHostParameter } from '#core/host-parameters';
import {
  AGENT_PROCESS_NAMES,
  createDemoHost,
  demoAgentProcesses,
  demoInstanceId,
  demoMode,
  isLiveProcess,
  setDemoMode,
  startDemoAgent,
  stopDemoHost,
} from '#local/demo-hosts';
import { demoRoot, waitFor } from './host-script-harness.ts';

/** A process's field of /proc/<pid>/stat, counted from 1 as in proc(5) (3 is the state). */
function statField(pid: number, field: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[field - 3]);
}

const processGroupOf = (pid: number) => statField(pid, 5);
const sessionOf = (pid: number) => statField(pid, 6);

describe('demoInstanceId', () => {
  it('gives a valid managed-instance id, distinct per host', () => {
    const ids = [1, 2, 255, Number.MAX_SAFE_INTEGER].map(demoInstanceId);

    expect(ids[0]).toBe('mi-00000000000000001');
    for (const id of ids) expect(isValidHostParameter('instanceId', id), id).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses host id %s', (hostId) => {
    expect(() => demoInstanceId(hostId)).toThrow(RangeError);
  });
});

describe('demo hosts', () => {
  let root: ReturnType<typeof demoRoot>;

  beforeEach(() => {
    root = demoRoot();
  });

  afterEach(async () => {
    await root.cleanUp();
  });

  it('lays a host out like a real install, with a valid agentHome', () => {
    const host = createDemoHost(root.root, 3);

    expect(host).toEqual({
      hostId: 3,
      instanceId: demoInstanceId(3),
      hostDir: join(root.root, 'host-3'),
      agentHome: join(root.root, 'host-3', 'ocp_agent'),
    });
    expect(isValidHostParameter('agentHome', host.agentHome)).toBe(true);
    for (const dir of ['bin/ocp_agentctl', 'run', 'log', 'conf']) {
      expect(existsSync(join(host.agentHome, dir)), dir).toBe(true);
    }
    expect(demoMode(host)).toBe('normal');
  });

  it('starts processes named after the agent processes, one pid file each, outside its caller’s session', async () => {
    const host = createDemoHost(root.root, 4, { mode: 'fast' });

    const pids = await startDemoAgent(host);

    expect(Object.keys(pids)).toEqual([...AGENT_PROCESS_NAMES]);
    const ownSession = sessionOf(process.pid);
    for (const name of AGENT_PROCESS_NAMES) {
      const pid = pids[name];
      expect(readFileSync(join(host.agentHome, 'run', `${name}.pid`), 'utf8').trim()).toBe(String(pid));
      expect(readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0]).toBe(name);
      expect(sessionOf(pid)).not.toBe(ownSession);
      expect(readlinkSync(`/proc/${pid}/fd/1`)).toBe(join(host.agentHome, 'run', 'ocp_agentctl-start.out'));
    }
  });

  it('has a control script that does not detach what it starts, as a real one may not', async () => {
    const host = createDemoHost(root.root, 13, { mode: 'fast' });
    const ctl = spawn(join(host.agentHome, 'bin', 'ocp_agentctl'), ['start'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let closed = false;
    ctl.once('close', () => {
      closed = true;
    });
    ctl.stdout.resume();
    ctl.stderr.resume();
    try {
      const code = await new Promise((resolve) => ctl.once('exit', resolve));
      expect(code).toBe(0);

      const pids = demoAgentProcesses(host).map(({ pid }) => pid!);
      // In the control script's process group, all holding the stdout pipe it was given.
      expect(pids.map(processGroupOf)).toEqual(pids.map(() => ctl.pid));
      const stdouts = new Set(pids.map((pid) => readlinkSync(`/proc/${pid}/fd/1`)));
      // Node gives a child a socket pair where Go (the SSM agent) gives a pipe.
      expect([...stdouts]).toEqual([expect.stringMatching(/^(pipe|socket):/)]);
      expect(closed).toBe(false);
    } finally {
      process.kill(-ctl.pid!, 'SIGKILL');
    }
    await waitFor(() => closed);
  });

  it('keeps a running host’s processes when created again', async () => {
    const host = createDemoHost(root.root, 5, { mode: 'fast' });
    const pids = await startDemoAgent(host);

    const again = createDemoHost(root.root, 5);

    expect(again).toEqual(host);
    expect(demoMode(again)).toBe('fast');
    expect(demoAgentProcesses(again).map((agentProcess) => agentProcess.pid)).toEqual(Object.values(pids));
    expect(demoAgentProcesses(again).every((agentProcess) => agentProcess.running)).toBe(true);
  });

  it('takes 0.2 to 0.5 s to start a process in normal mode', () => {
    const host = createDemoHost(root.root, 6);
    const started = Date.now();

    // Detached and without pipes: the control script leaves its processes attached to its caller.
    spawnSync('setsid', [join(host.agentHome, 'bin', 'ocp_agentctl'), 'start', 'pos_proxy'], {
      stdio: 'ignore',
    });

    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(demoAgentProcesses(host)[3]?.running).toBe(true);
  });

  it('fails to start in broken mode', async () => {
    const host = createDemoHost(root.root, 7, { mode: 'broken' });

    await expect(startDemoAgent(host)).rejects.toThrow(/cannot start ocp_agentd/);
    expect(demoAgentProcesses(host).some((agentProcess) => agentProcess.running)).toBe(false);
  });

  it('prints one status line per process from ocp_agentctl status', async () => {
    const host = createDemoHost(root.root, 8, { mode: 'fast' });
    const pids = await startDemoAgent(host);

    const status = execFileSync(join(host.agentHome, 'bin', 'ocp_agentctl'), ['status'], {
      encoding: 'utf8',
    });

    expect(status).toBe(AGENT_PROCESS_NAMES.map((name) => `${name} ${pids[name]} running\n`).join(''));
  });

  it('stops a host’s processes with ocp_agentctl stop', async () => {
    const host = createDemoHost(root.root, 9, { mode: 'fast' });
    const pids = Object.values(await startDemoAgent(host));

    const result = spawnSync(join(host.agentHome, 'bin', 'ocp_agentctl'), ['stop'], { encoding: 'utf8' });

    expect(result.status).toBe(0);
    expect(pids.filter(isLiveProcess)).toEqual([]);
  });

  it('stopDemoHost ends stubborn processes even without their pid files, and only that host’s', async () => {
    const host = createDemoHost(root.root, 10, { mode: 'fast' });
    const other = createDemoHost(root.root, 11, { mode: 'fast' });
    const pids = Object.values(await startDemoAgent(host));
    const otherPids = Object.values(await startDemoAgent(other));
    setDemoMode(host, 'stubborn');
    for (const name of AGENT_PROCESS_NAMES) rmSync(join(host.agentHome, 'run', `${name}.pid`));

    await stopDemoHost(host, { graceMs: 100 });

    expect(pids.filter(isLiveProcess)).toEqual([]);
    expect(otherPids.every(isLiveProcess)).toBe(true);
  });

  it('setDemoMode writes exactly one marker, and removes it for normal', () => {
    const host = createDemoHost(root.root, 12, { mode: 'stubborn' });

    setDemoMode(host, 'hang-stop');

    expect(demoMode(host)).toBe('hang-stop');
    expect(readdirSync(join(host.agentHome, 'conf'))).toEqual(['hang-stop']);

    setDemoMode(host, 'normal');

    expect(demoMode(host)).toBe('normal');
    expect(readdirSync(join(host.agentHome, 'conf'))).toEqual([]);
  });
});
