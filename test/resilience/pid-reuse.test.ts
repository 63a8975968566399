import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DemoHost } from '../../local/demo-hosts.ts';
import { demoRoot, runScript, startedDemoHost } from '../host-scripts/host-script-harness.ts';
import { recordFigure } from './support/figures.ts';

/**
 * Found by the concurrency rounds: with 200 hosts restarting at once on a machine whose pid_max is
 * 32768 (CentOS 7's default too), pids wrap within a round, a restarted agent process got the pid
 * its predecessor had, and finish-operation.sh failed the task ("still runs with pid N from before the
 * restart"). A pid and its process start time name one process: these cases pin the fix.
 */

let root: ReturnType<typeof demoRoot>;
let host: DemoHost;
let passed = 0;

beforeEach(async () => {
  root = demoRoot();
  host = await startedDemoHost(root.root, 1, 'fast');
});

afterEach(async () => {
  await root.cleanUp();
});

const recordFile = () => join(host.agentHome, 'run', 'restart', 'previous-pids');
const record = () =>
  readFileSync(recordFile(), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(' '));
const restartAgent = () => {
  expect(runScript('stop-agent.sh', host.agentHome).status).toBe(0);
  expect(runScript('start-agent.sh', host.agentHome).status).toBe(0);
};

describe('finish-operation.sh tells a new process from the old one even when it reuses the old pid', () => {
  it('records each process with its pid and start time', () => {
    expect(runScript('prepare-restart.sh', host.agentHome).status).toBe(0);

    for (const [name, pid, start] of record()) {
      expect(name).toMatch(/^[a-z_]+$/);
      expect(pid).toMatch(/^[1-9]\d*$/);
      expect(start).toMatch(/^\d+$/);
    }
    passed++;
  });

  it('passes a restarted agent whose new process has an old pid (a different start time)', () => {
    expect(runScript('prepare-restart.sh', host.agentHome).status).toBe(0);
    const before = record();
    restartAgent();
    // As if the kernel had handed each new process the pid of the one it replaced.
    const current = Object.fromEntries(
      ['ocp_agentd', 'ocp_mgragent', 'ocp_monagent', 'pos_proxy'].map((name) => [
        name,
        readFileSync(join(host.agentHome, 'run', `${name}.pid`), 'utf8').trim(),
      ]),
    );
    writeFileSync(
      recordFile(),
      `${before.map(([name, , start]) => `${name} ${current[name!]} ${start}`).join('\n')}\n`,
    );

    const result = runScript('finish-operation.sh', host.agentHome);

    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    passed++;
  });

  it('still fails an agent that was not restarted (same pid, same start time)', () => {
    expect(runScript('prepare-restart.sh', host.agentHome).status).toBe(0);

    const result = runScript('finish-operation.sh', host.agentHome);

    expect(result.status).toBe(5);
    expect(result.stderr).toMatch(/still runs with pid \d+ from before the restart/);
    passed++;
  });

  it('reads a record of the old format (no start time) as before: by pid alone', () => {
    expect(runScript('prepare-restart.sh', host.agentHome).status).toBe(0);
    writeFileSync(
      recordFile(),
      `${record()
        .map(([name, pid]) => `${name} ${pid}`)
        .join('\n')}\n`,
    );

    expect(runScript('finish-operation.sh', host.agentHome).status).toBe(5);
    restartAgent();
    expect(runScript('prepare-restart.sh', host.agentHome).status).toBe(0);
    writeFileSync(
      recordFile(),
      `${record()
        .map(([name]) => `${name} 1`)
        .join('\n')}\n`,
    );
    expect(runScript('finish-operation.sh', host.agentHome).status).toBe(0);
    passed++;
    recordFigure({
      family: 'host scripts',
      case: 'pid reuse across a restart (regression)',
      tried: 4,
      passed,
      detail:
        'prepare records pid and start time; finish passes a new process on an old pid, fails an unrestarted one, reads old records',
    });
  });
});
