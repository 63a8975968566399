import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type SendCommandCommandInput,
  SSMClient,
  waitUntilCommandExecuted,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { type CommandStatusEvent, type LocalInstance, LocalSsm } from '#local/services/ssm';

interface TestDocument {
  schemaVersion: '2.2';
  parameters: Record<string, { type: 'String'; default?: string; allowedPattern?: string }>;
  mainSteps: [
    { action: 'aws:runShellScript'; name: string; inputs: { runCommand: string[]; timeoutSeconds: number } },
  ];
}

function document(lines: string[], timeoutSeconds = 10): TestDocument {
  return {
    schemaVersion: '2.2',
    parameters: { name: { type: 'String', default: 'world', allowedPattern: '^[a-z]{1,20}$' } },
    mainSteps: [{ action: 'aws:runShellScript', name: 'run', inputs: { runCommand: lines, timeoutSeconds } }],
  };
}

/** A stand-in for host-scripts' renderer: `{{ name }}` replaced by the value. */
function render(content: TestDocument, parameters: Record<string, string>): string {
  return content.mainSteps[0].inputs.runCommand
    .join('\n')
    .replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => parameters[name] ?? '');
}

const DOCUMENTS: Record<string, TestDocument> = {
  'Test-Echo': document(['#!/bin/bash', 'echo "hello {{ name }}"', 'pwd', 'echo "home=$HOME"', 'touch ran']),
  'Test-Fail': document(['echo partial', 'echo broken >&2', 'exit 3']),
  // The background child stays in the command's process group, as an agent started without setsid would.
  'Test-Hang': document(['sleep 300 & echo $! > child.pid', 'wait'], 1),
  'Test-Long': document(['sleep 300 & echo $! > child.pid', 'wait'], 60),
  'Test-Big': document(["head -c 30000 /dev/zero | tr '\\0' o", "head -c 10000 /dev/zero | tr '\\0' e >&2"]),
};

const ONLINE = 'i-0123456789abcdef0';
const OFFLINE = 'i-0fedcba9876543210';
const LATE = 'i-0aaaaaaaaaaaaaaaa';

const root = mkdtempSync(join(tmpdir(), 'local-ssm-test-'));
const instances = new Map<string, LocalInstance>(
  [ONLINE, OFFLINE, LATE].map((id) => [id, { workDir: join(root, id), online: id === ONLINE }]),
);
const events: CommandStatusEvent[] = [];
let ssm: LocalSsm<TestDocument>;
let endpoint: AwsEndpoint;
let client: SSMClient;

beforeAll(async () => {
  for (const instance of instances.values()) mkdirSync(instance.workDir);
  ssm = new LocalSsm({
    documents: DOCUMENTS,
    renderRunCommand: render,
    instances: (id) => instances.get(id),
    emit: (event) => {
      events.push(event);
    },
    region: 'eu-west-1',
    accountId: '111122223333',
    killGraceMs: 500,
    deliveryTimeoutMs: () => 600,
  });
  endpoint = await startAwsEndpoint({ services: { AmazonSSM: ssm } });
  client = new SSMClient({
    endpoint: endpoint.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
});

afterAll(async () => {
  client?.destroy();
  await ssm?.close();
  await endpoint?.close();
  rmSync(root, { recursive: true, force: true });
});

async function send(input: Partial<SendCommandCommandInput> & { DocumentName: string }) {
  const sent = await client.send(new SendCommandCommand({ InstanceIds: [ONLINE], ...input }));
  return sent.Command!;
}

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

function invocation(commandId: string, instanceId = ONLINE) {
  return client.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
}

async function finished(commandId: string, instanceId = ONLINE): Promise<GetCommandInvocationCommandOutput> {
  return waitFor(async () => {
    const current = await invocation(commandId, instanceId);
    return TERMINAL.has(current.Status ?? '') ? current : undefined;
  });
}

const statusesOf = (commandId: string) =>
  events.filter((event) => event.detail['command-id'] === commandId).map((event) => event.detail.status);

/** The pid a script wrote, once the write is complete. */
function readPid(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
  return pid > 0 ? pid : undefined;
}

/** Alive and not a zombie: a reparented child may wait for its reaper. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('LocalSsm through the SDK', () => {
  it('runs a command in the instance folder and reports Success with its output', async () => {
    const command = await send({
      DocumentName: 'Test-Echo',
      Parameters: { name: ['alice'] },
      Comment: 'ocp-agent-restart task=1 subtask=0 attempt=1',
      TimeoutSeconds: 60,
    });
    expect(command).toMatchObject({ DocumentName: 'Test-Echo', Status: 'Pending', InstanceIds: [ONLINE] });
    expect(command.CommandId).toMatch(/^[0-9a-f-]{36}$/);
    expect(command.RequestedDateTime).toBeInstanceOf(Date);

    const result = await finished(command.CommandId!);

    const workDir = instances.get(ONLINE)!.workDir;
    expect(result).toMatchObject({
      Status: 'Success',
      StatusDetails: 'Success',
      ResponseCode: 0,
      Comment: 'ocp-agent-restart task=1 subtask=0 attempt=1',
      DocumentName: 'Test-Echo',
      PluginName: 'run',
      StandardOutputContent: `hello alice\n${workDir}\nhome=${workDir}\n`,
      StandardErrorContent: '',
    });
    expect(result.ExecutionStartDateTime).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(result.ExecutionElapsedTime).toMatch(/^PT[\d.]+S$/);
  });

  it('emits InProgress then Success events shaped like SSM status-change notifications', async () => {
    const command = await send({ DocumentName: 'Test-Echo' });
    await finished(command.CommandId!);
    await waitFor(() => statusesOf(command.CommandId!).length === 2);

    expect(statusesOf(command.CommandId!)).toEqual(['InProgress', 'Success']);
    const event = events.find((candidate) => candidate.detail['command-id'] === command.CommandId)!;
    expect(event).toMatchObject({
      version: '0',
      source: 'aws.ssm',
      'detail-type': 'EC2 Command Invocation Status-change Notification',
      account: '111122223333',
      region: 'eu-west-1',
      resources: [`arn:aws:ec2:eu-west-1:111122223333:instance/${ONLINE}`],
      detail: { 'document-name': 'Test-Echo', 'instance-id': ONLINE },
    });
    expect(event.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(event.detail['requested-date-time']).toBe(command.RequestedDateTime!.toISOString());
  });

  it('reports a non-zero exit as Failed with the exit code and stderr', async () => {
    const command = await send({ DocumentName: 'Test-Fail' });

    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({
      Status: 'Failed',
      StatusDetails: 'Failed',
      ResponseCode: 3,
      StandardOutputContent: 'partial\n',
      StandardErrorContent: 'broken\nfailed to run commands: exit status 3',
    });
    await waitFor(() => statusesOf(command.CommandId!).length === 2);
    expect(statusesOf(command.CommandId!)).toEqual(['InProgress', 'Failed']);
  });

  it('kills the whole process group when the execution timeout passes', async () => {
    const pidFile = join(instances.get(ONLINE)!.workDir, 'child.pid');
    rmSync(pidFile, { force: true });
    const command = await send({ DocumentName: 'Test-Hang' });

    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
      ResponseCode: 137,
    });
    const childPid = readPid(pidFile)!;
    await waitFor(() => !isRunning(childPid));
    expect(statusesOf(command.CommandId!)).toEqual(['InProgress', 'TimedOut']);
  });

  it('cancels a running command by killing its process group', async () => {
    const pidFile = join(instances.get(ONLINE)!.workDir, 'child.pid');
    rmSync(pidFile, { force: true });
    const command = await send({ DocumentName: 'Test-Long' });
    const childPid = await waitFor(() => readPid(pidFile));
    expect(isRunning(childPid)).toBe(true);

    await client.send(new CancelCommandCommand({ CommandId: command.CommandId! }));
    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({ Status: 'Cancelled', StatusDetails: 'Cancelled' });
    await waitFor(() => !isRunning(childPid));
    expect(statusesOf(command.CommandId!)).toEqual(['InProgress', 'Cancelled']);
  });

  it('leaves a command for an offline instance pending, then ends it undelivered without running it', async () => {
    const command = await send({ DocumentName: 'Test-Echo', InstanceIds: [OFFLINE], TimeoutSeconds: 30 });
    expect((await invocation(command.CommandId!, OFFLINE)).Status).toBe('Pending');

    const result = await finished(command.CommandId!, OFFLINE);

    expect(result).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'DeliveryTimedOut',
      ResponseCode: -1,
      ExecutionStartDateTime: '',
    });
    expect(existsSync(join(instances.get(OFFLINE)!.workDir, 'ran'))).toBe(false);
    expect(statusesOf(command.CommandId!)).toEqual(['TimedOut']);
  });

  it('delivers a pending command once its instance comes online', async () => {
    const command = await send({ DocumentName: 'Test-Echo', InstanceIds: [LATE], TimeoutSeconds: 30 });
    expect((await invocation(command.CommandId!, LATE)).Status).toBe('Pending');

    instances.get(LATE)!.online = true;
    const result = await finished(command.CommandId!, LATE);

    expect(result.Status).toBe('Success');
  });

  it('reports each instance’s ping status: Online while connected, ConnectionLost while offline', async () => {
    const described = await client.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: 'InstanceIds', Values: [ONLINE, OFFLINE] }],
      }),
    );

    expect(described.InstanceInformationList).toEqual([
      expect.objectContaining({ InstanceId: ONLINE, PingStatus: 'Online', PlatformType: 'Linux' }),
      expect.objectContaining({ InstanceId: OFFLINE, PingStatus: 'ConnectionLost' }),
    ]);
    const offline = described.InstanceInformationList![1]!;
    expect(offline.LastPingDateTime!.getTime()).toBeLessThan(Date.now());
    const onlineOnly = await client.send(
      new DescribeInstanceInformationCommand({
        Filters: [
          { Key: 'InstanceIds', Values: [ONLINE, OFFLINE] },
          { Key: 'PingStatus', Values: ['Online'] },
        ],
      }),
    );
    expect(onlineOnly.InstanceInformationList?.map((instance) => instance.InstanceId)).toEqual([ONLINE]);
  });

  it('refuses to describe an instance SSM does not manage, or by a filter it does not know', async () => {
    await expect(
      client.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: ['i-00000000000000000'] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidInstanceId' });
    await expect(
      client.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(
      client.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'AgentVersion', Values: ['1'] }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'InvalidFilterKey' });
  });

  it('refuses an unknown document, an unknown instance and bad parameters with SSM error names', async () => {
    await expect(send({ DocumentName: 'No-Such-Document' })).rejects.toMatchObject({
      name: 'InvalidDocument',
    });
    await expect(
      send({ DocumentName: 'Test-Echo', InstanceIds: ['i-00000000000000000'] }),
    ).rejects.toMatchObject({
      name: 'InvalidInstanceId',
    });
    await expect(
      send({ DocumentName: 'Test-Echo', Parameters: { name: ['Not Allowed!'] } }),
    ).rejects.toMatchObject({
      name: 'InvalidParameters',
    });
    await expect(send({ DocumentName: 'Test-Echo', Parameters: { other: ['x'] } })).rejects.toMatchObject({
      name: 'InvalidParameters',
    });
    await expect(send({ DocumentName: 'Test-Echo', Comment: 'c'.repeat(101) })).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(invocation('00000000-0000-4000-8000-000000000000', ONLINE)).rejects.toMatchObject({
      name: 'InvocationDoesNotExist',
    });
  });

  it('truncates output as SSM does while keeping the full text', async () => {
    const command = await send({ DocumentName: 'Test-Big' });

    const result = await finished(command.CommandId!);

    expect(result.Status).toBe('Success');
    expect(result.StandardOutputContent).toBe('o'.repeat(24_000));
    expect(result.StandardErrorContent).toBe('e'.repeat(8_000));
    expect(ssm.fullOutput(command.CommandId!, ONLINE)).toEqual({
      stdout: 'o'.repeat(30_000),
      stderr: 'e'.repeat(10_000),
    });
    const listed = await client.send(
      new ListCommandInvocationsCommand({ CommandId: command.CommandId!, Details: true }),
    );
    expect(listed.CommandInvocations?.[0]?.CommandPlugins?.[0]).toMatchObject({
      Name: 'run',
      Status: 'Success',
      ResponseCode: 0,
    });
    expect(listed.CommandInvocations?.[0]?.CommandPlugins?.[0]?.Output).toHaveLength(2_500);
  });

  it('lists a command with its counts', async () => {
    const command = await send({ DocumentName: 'Test-Fail' });
    await finished(command.CommandId!);

    const listed = await client.send(new ListCommandsCommand({ CommandId: command.CommandId! }));

    expect(listed.Commands).toHaveLength(1);
    expect(listed.Commands?.[0]).toMatchObject({
      CommandId: command.CommandId,
      Status: 'Failed',
      TargetCount: 1,
      CompletedCount: 1,
      ErrorCount: 1,
    });
  });

  it('works with the SDK waiter: SUCCESS for a successful command, FAILURE for a failed one', async () => {
    const params = { client, maxWaitTime: 20, minDelay: 1, maxDelay: 1 };
    const succeeded = await send({ DocumentName: 'Test-Echo' });
    const failed = await send({ DocumentName: 'Test-Fail' });

    const success = await waitUntilCommandExecuted(params, {
      CommandId: succeeded.CommandId!,
      InstanceId: ONLINE,
    });
    const failure = waitUntilCommandExecuted(params, { CommandId: failed.CommandId!, InstanceId: ONLINE });

    expect(success.state).toBe('SUCCESS');
    await expect(failure).rejects.toThrow(/FAILURE/);
  });

  it('does not emit the events a drop hook matches (a lost completion event)', async () => {
    ssm.setDropEvents((event) => event.detail.status === 'Success');
    try {
      const command = await send({ DocumentName: 'Test-Echo' });

      const result = await finished(command.CommandId!);

      expect(result.Status).toBe('Success');
      expect(statusesOf(command.CommandId!)).toEqual(['InProgress']);
    } finally {
      ssm.setDropEvents(undefined);
    }
  });

  it('kills running commands on close', async () => {
    const workDir = mkdtempSync(join(root, 'close-'));
    const local = new LocalSsm({
      documents: DOCUMENTS,
      renderRunCommand: render,
      instances: () => ({ workDir, online: true }),
      emit: () => undefined,
    });
    await local.handle('SendCommand', { DocumentName: 'Test-Long', InstanceIds: [ONLINE] });
    const pidFile = join(workDir, 'child.pid');
    const childPid = await waitFor(() => readPid(pidFile));

    await local.close();

    await waitFor(() => !isRunning(childPid));
  });
});
