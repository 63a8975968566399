import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDemoMode } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem, tokenFor } from '../support/local-client.ts';

/** The smoke test a user runs after `cdk deploy`, run the same way against local mode. */

const REPO = resolve(__dirname, '../..');
let system: LocalSystem;
let operator: string;
let viewer: string;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 2, demoMode: 'fast' });
  operator = await tokenFor(system, 'smoke', ['HOST_MANAGER', 'TASK_VIEWER']);
  viewer = await tokenFor(system, 'viewer', ['HOST_VIEWER', 'TASK_VIEWER']);
});

afterAll(async () => {
  await system?.stop();
});

/** `npm run smoke -- <args>` as a child process (asynchronous: this process serves its requests). */
function smoke(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      'npm',
      ['run', '-s', 'smoke', '--', ...args],
      { cwd: REPO, timeout: 100_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

const lines = (text: string) => text.trimEnd().split('\n');
/** A check's time, as the report prints it. */
const TIME = String.raw`\((?:\d+ ms|[\d.]+ s)\)`;

describe('npm run smoke against local mode', () => {
  it('passes on host 2: exit 0 and a ✓ line for every check', async () => {
    const { code, stdout, stderr } = await smoke([
      '--api',
      `${system.apiUrl}/`,
      '--token',
      operator,
      '--host',
      '2',
      '--viewer-token',
      viewer,
    ]);

    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(lines(stdout)).toEqual([
      `Smoke test of ${system.apiUrl} on host 2`,
      expect.stringMatching(
        /^✓ agent status before the restart: 4 of 4 processes running \(ocp_agentd \d+, /,
      ),
      expect.stringMatching(
        new RegExp(
          `^✓ the host is registered and the host list readable: 2 hosts registered; host 2 is ${system.hosts[1]!.instanceId}, agent in ${system.hosts[1]!.agentHome}, free ${TIME}$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(`^✓ restart answers OCP's envelope: task \\d+ RUNNING, 5 subtasks ${TIME}$`),
      ),
      expect.stringMatching(
        /^✓ task reaches SUCCESSFUL within the subtasks’ timeouts: task \d+ SUCCESSFUL \(deadline 1440 s\) \(/,
      ),
      expect.stringMatching(/^✓ agent processes are new: ocp_agentd \d+→\d+, .*pos_proxy \d+→\d+ \(/),
      expect.stringMatching(/^✓ every subtask log is readable: 5 logs, \d+ characters in all \(/),
      expect.stringMatching(/^✓ a restart without a token is refused: answered 401 /),
      expect.stringMatching(/^✓ a restart with a tampered token is refused: answered 401 /),
      expect.stringMatching(
        /^✓ a restart without HOST_MANAGER is refused: answered 403 \(OCP error 30014\) /,
      ),
      expect.stringMatching(/^PASSED in [\d.]+ s \(9 passed, 0 failed, 0 skipped\)$/),
    ]);
  });

  it('fails for an unknown host: exit 1, with the API’s reason on the failed lines', async () => {
    const { code, stdout } = await smoke(['--api', system.apiUrl, '--token', operator, '--host', '99']);

    expect(code).toBe(1);
    expect(stdout).toMatch(
      /^✗ restart answers OCP's envelope: answered 404, expected 200: 10002: Host 99 does not exist\./m,
    );
    expect(stdout).toMatch(
      /^✗ the host is registered and the host list readable: answered 404, expected 200: 10002: Host 99 does not exist\./m,
    );
    expect(stdout).toMatch(/^- task reaches SUCCESSFUL within the subtasks’ timeouts: no task was started$/m);
    expect(stdout).toMatch(/^- a restart without HOST_MANAGER is refused: no --viewer-token given$/m);
    expect(lines(stdout).at(-1)).toMatch(/^FAILED in [\d.]+ s \(2 passed, 3 failed, 4 skipped\)$/);
  });

  it('fails when the restart fails: exit 1, naming the subtask and its reason', async () => {
    const host = system.hosts[0]!;
    setDemoMode(host, 'broken');
    try {
      const { code, stdout } = await smoke(['--api', system.apiUrl, '--token', operator, '--host', '1']);

      expect(code).toBe(1);
      expect(stdout).toMatch(
        /^✗ task reaches SUCCESSFUL within the subtasks’ timeouts: task \d+ FAILED at "Restart pos proxy": .*exited with code 4/m,
      );
    } finally {
      setDemoMode(host, 'fast');
    }
  });

  it('refuses bad arguments with exit 2 and its usage', async () => {
    const { code, stdout, stderr } = await smoke(['--api', system.apiUrl, '--token', operator]);

    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^smoke: --host must be a host id/);
    expect(stderr).toContain('Exit codes: 0 every check passed; 1 a check failed');
  });
});
