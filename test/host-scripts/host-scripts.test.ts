import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RESTART_SUBTASKS } from '#core/subtasks';
import {
  AGENT_PROCESS_NAMES,
  type DemoHost,
  demoAgentProcesses,
  isLiveProcess,
  setDemoMode,
} from '#local/demo-hosts';
import { demoRoot, runScript, startedDemoHost, waitFor } from './host-script-harness.ts';

const AgentStatusLine = z.strictObject({
  processes: z
    .array(
      z.strictObject({
        name: z.enum(AGENT_PROCESS_NAMES),
        pid: z.number().int().positive().nullable(),
        running: z.boolean(),
      }),
    )
    .length(AGENT_PROCESS_NAMES.length),
});

function pidsOf(host: DemoHost): number[] {
  return demoAgentProcesses(host).map((agentProcess) => agentProcess.pid ?? 0);
}

function pidFile(host: DemoHost, name: string): string {
  return join(host.agentHome, 'run', `${name}.pid`);
}

let root: ReturnType<typeof demoRoot>;
let host: DemoHost;

beforeEach(async () => {
  root = demoRoot();
  host = await startedDemoHost(root.root, 1);
});

afterEach(async () => {
  await root.cleanUp();
});

describe('the restart sequence', () => {
  it('runs every subtask script in order and leaves each process running with a new pid', () => {
    const before = pidsOf(host);

    for (const subtask of RESTART_SUBTASKS) {
      const result = runScript(subtask.script, host.agentHome);
      expect(result.stderr, subtask.script).toBe('');
      expect(result.status, subtask.script).toBe(0);
    }

    const after = demoAgentProcesses(host);
    expect(after.every((agentProcess) => agentProcess.running)).toBe(true);
    after.forEach((agentProcess, index) => {
      expect(agentProcess.pid).not.toBe(before[index]);
    });
    expect(existsSync(join(host.agentHome, 'run', 'restart'))).toBe(false);
  });
});

describe('prepare-restart.sh', () => {
  it('records the current pid of every process', () => {
    const result = runScript('prepare-restart.sh', host.agentHome);

    expect(result.status).toBe(0);
    for (const agentProcess of demoAgentProcesses(host)) {
      expect(result.stdout).toContain(`${agentProcess.name} is running with pid ${agentProcess.pid}`);
    }
  });

  it('exits 2 naming the missing control script of a broken install', () => {
    rmSync(join(host.agentHome, 'bin', 'ocp_agentctl'));

    const result = runScript('prepare-restart.sh', host.agentHome);

    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/prepare-restart: ERROR: control script .*\/bin\/ocp_agentctl is missing/);
  });

  it('exits 2 when AGENT_HOME does not exist', () => {
    const result = runScript('prepare-restart.sh', join(root.root, 'nowhere'));

    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/does not exist/);
  });
});

describe('restart-pos-proxy.sh', () => {
  it('restarts pos_proxy with a new pid and leaves the other processes alone', () => {
    const before = demoAgentProcesses(host);

    const result = runScript('restart-pos-proxy.sh', host.agentHome);

    expect(result.status).toBe(0);
    const after = demoAgentProcesses(host);
    expect(after.map((agentProcess) => agentProcess.running)).toEqual([true, true, true, true]);
    expect(after.slice(0, 3)).toEqual(before.slice(0, 3));
    expect(after[3]?.pid).not.toBe(before[3]?.pid);
    expect(isLiveProcess(before[3]?.pid ?? 0)).toBe(false);
  });
});

describe('stop-agent.sh', () => {
  it('leaves no agent process and no pid file', () => {
    const pids = pidsOf(host);

    const result = runScript('stop-agent.sh', host.agentHome);

    expect(result.status).toBe(0);
    expect(pids.filter(isLiveProcess)).toEqual([]);
    for (const name of AGENT_PROCESS_NAMES) expect(existsSync(pidFile(host, name))).toBe(false);
  });

  it('SIGKILLs processes that ignore SIGTERM once the grace period is over', () => {
    setDemoMode(host, 'stubborn');
    const pids = pidsOf(host);

    const result = runScript('stop-agent.sh', host.agentHome, { env: { STOP_GRACE_SECONDS: '0.3' } });

    expect(result.status).toBe(0);
    expect(result.stdout).toContain('did not exit within 0.300s: SIGKILL');
    expect(pids.filter(isLiveProcess)).toEqual([]);
    for (const name of AGENT_PROCESS_NAMES) expect(existsSync(pidFile(host, name))).toBe(false);
  });

  it('succeeds again on a stopped agent', () => {
    expect(runScript('stop-agent.sh', host.agentHome).status).toBe(0);

    const again = runScript('stop-agent.sh', host.agentHome);

    expect(again.status).toBe(0);
    expect(again.stdout).toContain('ocp_agentd is not running');
  });

  it('in hang-stop mode waits out the grace period for the three processes that ignore SIGTERM, then SIGKILLs them', () => {
    setDemoMode(host, 'hang-stop');
    const pids = pidsOf(host);

    const result = runScript('stop-agent.sh', host.agentHome, { env: { STOP_GRACE_SECONDS: '0.3' } });

    expect(result.status).toBe(0);
    expect(result.stdout.match(/did not exit within 0\.300s: SIGKILL/g)).toHaveLength(3);
    expect(result.stdout).not.toMatch(/pos_proxy \(pid \d+\) did not exit/);
    expect(pids.filter(isLiveProcess)).toEqual([]);
  });

  it('exits 2, touching nothing, when a wait its document sets is missing', () => {
    const result = runScript('stop-agent.sh', host.agentHome, { unset: ['KILL_WAIT_SECONDS'] });

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('KILL_WAIT_SECONDS is not set (the SSM document sets it)');
    expect(pidsOf(host).every(isLiveProcess)).toBe(true);
  });

  it('exits 2 on a grace period that is not a number', () => {
    const result = runScript('stop-agent.sh', host.agentHome, { env: { STOP_GRACE_SECONDS: '1; id' } });

    expect(result.status).toBe(2);
    expect(result.stderr).toContain('STOP_GRACE_SECONDS must be a number of seconds');
    expect(pidsOf(host).every(isLiveProcess)).toBe(true);
  });
});

describe('start-agent.sh', () => {
  it('starts every process of a stopped agent', () => {
    runScript('stop-agent.sh', host.agentHome);

    const result = runScript('start-agent.sh', host.agentHome);

    expect(result.status).toBe(0);
    expect(demoAgentProcesses(host).every((agentProcess) => agentProcess.running)).toBe(true);
  });

  it('keeps the processes of a running agent', () => {
    const before = pidsOf(host);

    const result = runScript('start-agent.sh', host.agentHome);

    expect(result.status).toBe(0);
    expect(pidsOf(host)).toEqual(before);
    expect(result.stdout).toContain('is already running');
  });

  it('exits 4 at once when the control script does not finish in time, and stops that script', async () => {
    runScript('stop-agent.sh', host.agentHome);
    const ctl = join(host.agentHome, 'bin', 'hanging_ctl');
    const ctlPidFile = join(host.agentHome, 'run', 'hanging_ctl.pid');
    writeFileSync(
      ctl,
      [
        '#!/usr/bin/env bash',
        `printf '%s\\n' "$$" >'${ctlPidFile}'`,
        'echo "starting $*"',
        'exec sleep 300',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const started = Date.now();

    const result = runScript('start-agent.sh', host.agentHome, {
      env: { CONTROL_SCRIPT: 'bin/hanging_ctl', START_WAIT_SECONDS: '1' },
    });

    expect(result.status).toBe(4);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.stdout).toContain('starting start ocp_agentd ocp_mgragent ocp_monagent pos_proxy');
    expect(result.stderr).toMatch(/hanging_ctl start .* did not finish within 1\.000s/);
    const ctlPid = Number(readFileSync(ctlPidFile, 'utf8'));
    await waitFor(() => !isLiveProcess(ctlPid));
  });

  it('exits 4 when the control script cannot start the agent', () => {
    runScript('stop-agent.sh', host.agentHome);
    setDemoMode(host, 'broken');

    const result = runScript('start-agent.sh', host.agentHome);

    expect(result.status).toBe(4);
    expect(result.stderr).toMatch(/ocp_agentctl start .* failed with exit status 1/);
    expect(demoAgentProcesses(host).some((agentProcess) => agentProcess.running)).toBe(false);
  });
});

describe('finish-operation.sh', () => {
  it('exits 5 and keeps the restart record when the pids did not change', () => {
    runScript('prepare-restart.sh', host.agentHome);

    const result = runScript('finish-operation.sh', host.agentHome);

    expect(result.status).toBe(5);
    expect(result.stderr).toMatch(/ocp_agentd still runs with pid \d+ from before the restart/);
    expect(existsSync(join(host.agentHome, 'run', 'restart', 'previous-pids'))).toBe(true);
  });

  it('exits 5 when a process is not running', () => {
    runScript('prepare-restart.sh', host.agentHome);
    runScript('stop-agent.sh', host.agentHome);

    const result = runScript('finish-operation.sh', host.agentHome);

    expect(result.status).toBe(5);
    expect(result.stderr).toContain('ocp_agentd is not running');
  });
});

describe('agent-status.sh', () => {
  it('prints one JSON line with every process and its pid when all processes run', () => {
    const result = runScript('agent-status.sh', host.agentHome);

    expect(result.status).toBe(0);
    expect(result.stdout.endsWith('\n')).toBe(true);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    expect(AgentStatusLine.parse(JSON.parse(result.stdout))).toEqual({
      processes: demoAgentProcesses(host),
    });
  });

  it('prints null pids when the agent is stopped', () => {
    runScript('stop-agent.sh', host.agentHome);

    const result = runScript('agent-status.sh', host.agentHome);

    expect(result.status).toBe(0);
    expect(AgentStatusLine.parse(JSON.parse(result.stdout))).toEqual({
      processes: AGENT_PROCESS_NAMES.map((name) => ({ name, pid: null, running: false })),
    });
  });

  it('reports each process for itself when one is down', async () => {
    const posProxyPid = demoAgentProcesses(host)[3]?.pid ?? 0;
    process.kill(posProxyPid, 'SIGKILL');
    await waitFor(() => !isLiveProcess(posProxyPid));

    const result = runScript('agent-status.sh', host.agentHome);

    const report = AgentStatusLine.parse(JSON.parse(result.stdout));
    expect(report.processes.slice(0, 3)).toEqual(demoAgentProcesses(host).slice(0, 3));
    expect(report.processes.slice(0, 3).every((agentProcess) => agentProcess.running)).toBe(true);
    expect(report.processes[3]).toEqual({ name: 'pos_proxy', pid: null, running: false });
  });
});
