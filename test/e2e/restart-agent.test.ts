import { readFileSync } from 'node:fs';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListCommandInvocationsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESTART_SUBTASKS } from '../../functions/core/subtasks.ts';
import { OPENAPI_FILE } from '../../functions/http/openapi.ts';
import { demoAgentProcesses, isLiveProcess, setDemoMode, startDemoAgent } from '../../local/demo-hosts.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { call, startTestSystem, tokenFor, waitForTask } from '../support/local-client.ts';

let system: LocalSystem;
let operator: string;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 4 });
  operator = await tokenFor(system, 'alice', ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER']);
});

afterAll(async () => {
  await system?.stop();
});

const pidsOf = (hostId: number) =>
  Object.fromEntries(
    demoAgentProcesses(system.hosts[hostId - 1]!).map((process) => [process.name, process.pid]),
  );

describe('restarting an agent in local mode, over HTTP', () => {
  it('restarts host 2: the task ends SUCCESSFUL, each subtask has its output, the processes are new', async () => {
    const before = pidsOf(2);

    const { status, envelope } = await call(system, 'POST', '/compute/hosts/2/agent/restart', operator);

    expect(status).toBe(200);
    expect(envelope.data).toMatchObject({ hostId: 2, status: 'RUNNING', creator: 'alice' });
    const task = await waitForTask(system, operator, envelope.data.id);
    expect(task.status).toBe('SUCCESSFUL');
    expect(task.subtasks.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual(
      RESTART_SUBTASKS.map((s) => [s.name, 'SUCCESSFUL']),
    );
    for (const subtask of task.subtasks) {
      const { envelope: log } = await call(
        system,
        'GET',
        `/api/v2/tasks/instances/${task.id}/subtasks/${subtask.id}/log`,
        operator,
      );
      expect(log.data.log).toMatch(/attempt 1 .* exit code 0/);
    }
    const after = pidsOf(2);
    for (const [name, pid] of Object.entries(after)) {
      expect(pid, name).toBeTypeOf('number');
      expect(pid, name).not.toBe(before[name]);
    }
    const { envelope: agent } = await call(system, 'GET', '/compute/hosts/2/agent', operator);
    expect(agent.data.status).toBe('STARTED');
    expect(
      Object.fromEntries(agent.data.processes.map((p: { name: string; pid: number }) => [p.name, p.pid])),
    ).toEqual(after);
  });

  it('restarts two hosts at once', async () => {
    const [first, second] = await Promise.all([
      call(system, 'POST', '/compute/hosts/1/agent/restart', operator),
      call(system, 'POST', '/compute/hosts/4/agent/restart', operator),
    ]);

    const tasks = await Promise.all([
      waitForTask(system, operator, first!.envelope.data.id),
      waitForTask(system, operator, second!.envelope.data.id),
    ]);
    expect(tasks.map((task) => task.status)).toEqual(['SUCCESSFUL', 'SUCCESSFUL']);
  });

  it('leaves a broken host FAILED at the failing subtask, with its output, and reports the agent truthfully', async () => {
    setDemoMode(system.hosts[2]!, 'broken');

    const { envelope } = await call(system, 'POST', '/compute/hosts/3/agent/restart', operator);
    const task = await waitForTask(system, operator, envelope.data.id);

    expect(task.status).toBe('FAILED');
    // A broken install cannot start any process: the pos proxy restart is the first to fail.
    expect(task.subtasks.map((s: { status: string }) => s.status)).toEqual([
      'SUCCESSFUL',
      'FAILED',
      'PENDING',
      'PENDING',
      'PENDING',
    ]);
    const failed = task.subtasks[1];
    expect(failed.error).toMatch(/exited with code 4/);
    const { envelope: log } = await call(
      system,
      'GET',
      `/api/v2/tasks/instances/${task.id}/subtasks/${failed.id}/log`,
      operator,
    );
    expect(log.data.log).toMatch(/exit code 4/);
    const { envelope: agent } = await call(system, 'GET', '/compute/hosts/3/agent', operator);
    expect(agent.data).toMatchObject({
      status: 'PARTIAL',
      summary: '3 of 4 agent processes run (ocp_agentd, ocp_mgragent, ocp_monagent); not running: pos_proxy.',
    });
    setDemoMode(system.hosts[2]!, 'normal');
  });

  it('frees the host when a task ends, so the next restart is accepted', async () => {
    const { envelope } = await call(system, 'POST', '/compute/hosts/3/agent/restart', operator);
    expect(envelope.successful).toBe(true);
    const task = await waitForTask(system, operator, envelope.data.id);
    expect(task.subtasks.map((s: { error?: string }) => s.error ?? '')).toEqual(['', '', '', '', '']);
    expect(task.status).toBe('SUCCESSFUL');
  });
});

describe('the agent status of a host where some agent processes run', () => {
  it('is PARTIAL, naming the process that does not run, when one of the four was killed', async () => {
    const host = system.hosts[1]!;
    const killed = demoAgentProcesses(host).find((agentProcess) => agentProcess.name === 'ocp_monagent')!;
    process.kill(killed.pid!, 'SIGKILL');
    try {
      await expect.poll(() => isLiveProcess(killed.pid!), { timeout: 10_000 }).toBe(false);

      const { status, envelope } = await call(system, 'GET', `/compute/hosts/${host.hostId}/agent`, operator);

      expect(status).toBe(200);
      expect(envelope.data).toMatchObject({
        status: 'PARTIAL',
        summary:
          '3 of 4 agent processes run (ocp_agentd, ocp_mgragent, pos_proxy); not running: ocp_monagent.',
      });
      expect(envelope.data.processes).toEqual(
        demoAgentProcesses(host).map((agentProcess) =>
          agentProcess.running ? agentProcess : { ...agentProcess, pid: null },
        ),
      );
    } finally {
      await startDemoAgent(host);
    }
  });
});

describe('the agent status of a registered host SSM cannot reach', () => {
  it('answers 503 at once, naming the reason, when SSM does not know the host’s instance', async () => {
    const dynamodb = new DynamoDBClient({});
    try {
      await dynamodb.send(
        new PutItemCommand({
          TableName: system.tables.hostTable,
          Item: marshall({
            hostId: 90,
            instanceId: 'mi-0123456789abcdef0',
            agentHome: '/home/admin/ocp_agent',
          }),
        }),
      );
    } finally {
      dynamodb.destroy();
    }

    const { status, envelope } = await call(system, 'GET', '/compute/hosts/90/agent', operator);

    expect(status).toBe(503);
    expect(envelope.error).toMatchObject({
      code: 40000,
      target: 'hostId',
      message: expect.stringMatching(
        /^Host 90 cannot be reached through SSM: SSM refused the command .*InvalidInstanceId/,
      ),
    });
  });

  it('answers 503 saying the SSM Agent is offline when the host is disconnected, and cancels the command', async () => {
    const host = system.hosts[0]!;
    const ssm = new SSMClient({});
    system.offlineInstances.add(host.instanceId);
    try {
      const { status, envelope } = await call(system, 'GET', `/compute/hosts/${host.hostId}/agent`, operator);

      expect(status).toBe(503);
      expect(envelope.error?.message).toMatch(
        /^Host 1 cannot be reached through SSM: its SSM Agent is offline/,
      );
      const { CommandInvocations: [latest] = [] } = await ssm.send(
        new ListCommandInvocationsCommand({ InstanceId: host.instanceId, MaxResults: 1 }),
      );
      expect(latest).toMatchObject({ DocumentName: 'OcpAgentRestart-agentStatus', Status: 'Cancelled' });
    } finally {
      system.offlineInstances.delete(host.instanceId);
      ssm.destroy();
    }
  });
});

describe('refusals over real HTTP, in the OCP envelope', () => {
  it('401 without a token', async () => {
    const { status, envelope } = await call(system, 'POST', '/compute/hosts/2/agent/restart');
    expect(status).toBe(401);
    expect(envelope).toMatchObject({ successful: false, status: 401, error: { code: 30000 } });
  });

  it('401 with a token from another signer', async () => {
    const forged = `${operator.slice(0, operator.lastIndexOf('.'))}.${'A'.repeat(342)}`;
    const { status } = await call(system, 'POST', '/compute/hosts/2/agent/restart', forged);
    expect(status).toBe(401);
  });

  it('403 for a caller without HOST_MANAGER', async () => {
    const viewer = await tokenFor(system, 'bob', ['HOST_VIEWER', 'TASK_MANAGER']);
    const { status, envelope } = await call(system, 'POST', '/compute/hosts/2/agent/restart', viewer);
    expect(status).toBe(403);
    expect(envelope.error?.code).toBe(30014);
  });

  it('400 for a malformed host id', async () => {
    const { status, envelope } = await call(system, 'POST', '/compute/hosts/1e3/agent/restart', operator);
    expect(status).toBe(400);
    expect(envelope.error?.code).toBe(10001);
  });

  it('404 for an unknown host', async () => {
    const { status, envelope } = await call(system, 'POST', '/compute/hosts/999/agent/restart', operator);
    expect(status).toBe(404);
    expect(envelope.error?.code).toBe(10002);
  });
});

describe('subtask output beyond what SSM returns inline', () => {
  it('is kept whole in the subtask log, read from SSM’s CloudWatch output', async () => {
    setDemoMode(system.hosts[3]!, 'verbose');

    const { envelope } = await call(system, 'POST', '/compute/hosts/4/agent/restart', operator);
    const task = await waitForTask(system, operator, envelope.data.id);
    const start = task.subtasks[3];
    const { envelope: log } = await call(
      system,
      'GET',
      `/api/v2/tasks/instances/${task.id}/subtasks/${start.id}/log`,
      operator,
    );

    expect(task.status).toBe('SUCCESSFUL');
    expect(log.data.log.length).toBeGreaterThan(48_000);
    expect(log.data.log).toContain('startup check 0001');
    expect(log.data.log).toContain('startup report complete');
    expect(log.data.truncated).toBe(false);
    setDemoMode(system.hosts[3]!, 'normal');
  });

  it('is marked truncated, saying why, when the host’s instance role cannot stream it to CloudWatch Logs', async () => {
    const host = system.hosts[3]!;
    setDemoMode(host, 'verbose');
    system.instancesWithoutOutputStreaming.add(host.instanceId);
    try {
      const { envelope } = await call(system, 'POST', '/compute/hosts/4/agent/restart', operator);
      const task = await waitForTask(system, operator, envelope.data.id);
      const start = task.subtasks[3];
      const { envelope: log } = await call(
        system,
        'GET',
        `/api/v2/tasks/instances/${task.id}/subtasks/${start.id}/log`,
        operator,
      );

      expect(task.status).toBe('SUCCESSFUL');
      expect(log.successful).toBe(true);
      expect(log.data.truncated).toBe(true);
      expect(log.data.log).toContain('startup check 0001');
      expect(log.data.log).not.toContain('startup report complete');
      expect(log.data.log).toMatch(
        /\n\[stdout truncated: SSM cut it at 24,000 characters, and its full text is not available: .* has no stream of it: .*CommandOutputPolicyArn/,
      );
    } finally {
      system.instancesWithoutOutputStreaming.delete(host.instanceId);
      setDemoMode(host, 'normal');
    }
  });
});

describe('the OpenAPI document, over HTTP', () => {
  it('is served to a caller without a token, as openapi.json holds it', async () => {
    const { status, envelope } = await call(system, 'GET', '/openapi.json');

    expect(status).toBe(200);
    expect(envelope).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });
});

describe('the console’s files and its loopback sign-in, over HTTP', () => {
  it('serves the page and its script without a token, with the strict CSP', async () => {
    const page = await fetch(`${system.apiUrl}/console`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/console/console.js');
    const script = await fetch(`${system.apiUrl}/console/console.js`);
    expect(script.status).toBe(200);
    const config = await fetch(`${system.apiUrl}/console/config.json`);
    expect(await config.json()).toEqual({ permissionsClaim: 'cognito:groups', loopbackSignIn: true });
    expect((await fetch(`${system.apiUrl}/console/nothing.js`)).status).toBe(404);
  });

  it('signs in with one call from loopback, and the token opens the API', async () => {
    const response = await fetch(`${system.apiUrl}/console/local-sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ permissions: ['TASK_VIEWER'] }),
    });
    expect(response.status).toBe(200);
    const { token } = (await response.json()) as { token: string };
    const { status } = await call(system, 'GET', '/api/v2/tasks/instances', token);
    expect(status).toBe(200);
    const refused = await call(system, 'POST', '/compute/hosts/1/agent/restart', token);
    expect(refused.status).toBe(403);
  });

  it('refuses a sign-in posted by another site’s page', async () => {
    const response = await fetch(`${system.apiUrl}/console/local-sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body: '{}',
    });
    expect(response.status).toBe(403);
    expect(await response.json()).not.toHaveProperty('token');
  });
});
