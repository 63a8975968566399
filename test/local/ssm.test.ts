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
import { renderRunCommand, type SsmCommandDocumentContent } from '../../host-scripts/command-documents.ts';

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
  // Lines written over time: the second in two writes, then a blank line; the last has no line break.
  'Test-Trickle': document([
    'echo first',
    'printf "second "',
    'sleep 0.6',
    'echo half',
    'echo',
    'echo oops >&2',
    'printf last',
  ]),
  'Test-Big': document(["head -c 30000 /dev/zero | tr '\\0' o", "head -c 10000 /dev/zero | tr '\\0' e >&2"]),
  // The script exits at once; what it started in the background still writes to its stdout.
  'Test-Late-Output': document(['echo "dir=$(dirname "$0")"', '(sleep 0.5; echo late) &', 'echo early']),
  // A start that does not detach: the background process keeps the command's stdout open.
  'Test-Hold': document(['echo "dir=$(dirname "$0")"', 'sleep 30 & echo $! > hold.pid', 'echo started'], 2),
  // In a session of its own, but still holding stdout: the group kill cannot reach it.
  'Test-Hold-Session': document(['setsid sleep 30 & echo $! > hold-session.pid', 'echo started'], 2),
  // Fully detached: own session, no inherited output.
  'Test-Detached': document(
    ['setsid sleep 30 </dev/null >/dev/null 2>&1 & echo $! > detached.pid', 'echo started'],
    30,
  ),
};

const ONLINE = 'i-0123456789abcdef0';
const OFFLINE = 'i-0fedcba9876543210';
const LATE = 'i-0aaaaaaaaaaaaaaaa';

const root = mkdtempSync(join(tmpdir(), 'local-ssm-test-'));
const instances = new Map<string, LocalInstance>(
  [ONLINE, OFFLINE, LATE].map((id) => [id, { workDir: join(root, id), online: id === ONLINE }]),
);
const events: CommandStatusEvent[] = [];
/** The seconds after which each undelivered command was to expire, as local SSM computed them. */
const expiries: number[] = [];
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
    deliveryTimeoutMs: (seconds) => {
      expiries.push(seconds);
      return 600;
    },
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

  it('ends a command only when its output pipes close, with what was written after the script exited', async () => {
    const command = await send({ DocumentName: 'Test-Late-Output' });

    const result = await finished(command.CommandId!);

    expect(result.Status).toBe('Success');
    expect(result.StandardOutputContent).toMatch(/^dir=.*\nearly\nlate\n$/);
    const dir = /^dir=(.*)$/m.exec(result.StandardOutputContent!)![1]!;
    expect(dir).toMatch(/\/local-ssm-[^/]+$/);
    expect(existsSync(dir)).toBe(false);
  });

  it('hangs a command whose background process holds its stdout until the timeout, which kills that process with the group', async () => {
    const workDir = instances.get(ONLINE)!.workDir;
    rmSync(join(workDir, 'hold.pid'), { force: true });
    const started = Date.now();
    const command = await send({ DocumentName: 'Test-Hold' });

    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
      ResponseCode: 137,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(result.StandardOutputContent).toMatch(/\nstarted\n$/);
    await waitFor(() => !isRunning(readPid(join(workDir, 'hold.pid'))!));
    const dir = /^dir=(.*)$/m.exec(result.StandardOutputContent!)![1]!;
    expect(existsSync(dir)).toBe(false);
  });

  it('times out a command held open from another session without waiting for, or killing, the holder', async () => {
    const pidFile = join(instances.get(ONLINE)!.workDir, 'hold-session.pid');
    rmSync(pidFile, { force: true });
    const command = await send({ DocumentName: 'Test-Hold-Session' });

    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({
      Status: 'TimedOut',
      ResponseCode: 137,
      StandardOutputContent: 'started\n',
    });
    const holder = readPid(pidFile)!;
    try {
      expect(isRunning(holder)).toBe(true);
    } finally {
      process.kill(holder, 'SIGKILL');
    }
  });

  it('ends a command at once when its background process is fully detached, and leaves that process running', async () => {
    const pidFile = join(instances.get(ONLINE)!.workDir, 'detached.pid');
    rmSync(pidFile, { force: true });
    const started = Date.now();
    const command = await send({ DocumentName: 'Test-Detached' });

    const result = await finished(command.CommandId!);

    expect(result).toMatchObject({ Status: 'Success', StandardOutputContent: 'started\n' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const detached = readPid(pidFile)!;
    try {
      expect(isRunning(detached)).toBe(true);
    } finally {
      process.kill(detached, 'SIGKILL');
    }
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

  it('lets an undelivered command expire after its delivery and execution timeouts together, as AWS documents', async () => {
    expiries.length = 0;
    const command = await send({ DocumentName: 'Test-Echo', InstanceIds: [OFFLINE], TimeoutSeconds: 45 });
    await finished(command.CommandId!, OFFLINE);

    // Test-Echo's step may run 10 s.
    expect(expiries).toEqual([45 + 10]);
    const [listed] = (await client.send(new ListCommandsCommand({ CommandId: command.CommandId! })))
      .Commands!;
    expect(listed!.ExpiresAfter!.getTime() - listed!.RequestedDateTime!.getTime()).toBeGreaterThanOrEqual(
      54_000,
    );
    expect(listed!.ExpiresAfter!.getTime() - listed!.RequestedDateTime!.getTime()).toBeLessThanOrEqual(
      56_000,
    );
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

  it('truncates output as SSM does while streaming the full text to the CloudWatch log group asked for', async () => {
    const cloudWatch = { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/test/output' };
    const command = await send({ DocumentName: 'Test-Big', CloudWatchOutputConfig: cloudWatch });

    const result = await finished(command.CommandId!);

    expect(result.Status).toBe('Success');
    expect(result.StandardOutputContent).toBe('o'.repeat(24_000));
    expect(result.StandardErrorContent).toBe('e'.repeat(8_000));
    expect(result.CloudWatchOutputConfig).toEqual(cloudWatch);
    const streamed = ssm.streamedOutput(command.CommandId!, ONLINE);
    expect(streamed).toMatchObject({ logGroupName: '/test/output', stepName: 'run' });
    expect(streamed?.stdout.events.map((event) => event.message)).toEqual(['o'.repeat(30_000)]);
    expect(streamed?.stderr.events.map((event) => event.message)).toEqual(['e'.repeat(10_000)]);
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

  it('streams each line as the script writes it, the last one when the run ends', async () => {
    const command = await send({
      DocumentName: 'Test-Trickle',
      CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/test/output' },
    });
    const messages = (channel: 'stdout' | 'stderr') =>
      ssm.streamedOutput(command.CommandId!, ONLINE)?.[channel].events.map((event) => event.message) ?? [];

    const whileRunning = await waitFor(() =>
      messages('stdout').length > 0 ? messages('stdout') : undefined,
    );
    expect(whileRunning).toEqual(['first']);
    expect((await invocation(command.CommandId!)).Status).toBe('InProgress');

    await finished(command.CommandId!);
    expect(messages('stdout')).toEqual(['first', 'second half', 'last']);
    expect(messages('stderr')).toEqual(['oops']);
  });

  it('streams no output when the command asks for no CloudWatch output, or the instance role may not write logs', async () => {
    const unasked = await send({ DocumentName: 'Test-Echo' });
    await finished(unasked.CommandId!);
    const instance = instances.get(ONLINE)!;
    instance.streamsOutput = false;
    try {
      const unpermitted = await send({
        DocumentName: 'Test-Echo',
        CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: '/test/output' },
      });
      await finished(unpermitted.CommandId!);

      expect(ssm.streamedOutput(unasked.CommandId!, ONLINE)).toBeUndefined();
      expect(ssm.streamedOutput(unpermitted.CommandId!, ONLINE)).toBeUndefined();
    } finally {
      delete instance.streamsOutput;
    }
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

describe('LocalSsm checking parameters on the host as the SSM Agent does (RE2)', () => {
  const workDir = join(root, 'agent-check');
  const agentEvents: CommandStatusEvent[] = [];
  const documentWith = (allowedPattern: string): SsmCommandDocumentContent => ({
    schemaVersion: '2.2',
    description: 'test',
    parameters: {
      name: { type: 'String', description: 'a name', default: 'world', allowedPattern, maxChars: 20 },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'run',
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: 10, runCommand: ['#!/bin/bash', 'touch ran-{{ name }}'] },
      },
    ],
  });
  let local: LocalSsm<SsmCommandDocumentContent>;

  beforeAll(() => {
    mkdirSync(workDir);
    local = new LocalSsm({
      documents: {
        // Java, SSM's engine at SendCommand, compiles a lookahead; Go's regexp on the host does not.
        'Test-Lookahead': documentWith('^(?!x)[a-z]+$'),
        'Test-Plain': documentWith('^[a-z]+\\z'),
      },
      renderRunCommand,
      instances: () => ({ workDir, online: true }),
      emit: (event) => {
        agentEvents.push(event);
      },
    });
  });

  afterAll(async () => {
    await local?.close();
  });

  async function sendTo(documentName: string, name: string) {
    const sent = (await local.handle('SendCommand', {
      DocumentName: documentName,
      InstanceIds: [ONLINE],
      Parameters: { name: [name] },
    })) as { Command: { CommandId: string } };
    return sent.Command.CommandId;
  }

  it('fails the command unrun, with Go’s compile error as its trace, when the agent cannot compile an allowedPattern', async () => {
    const commandId = await sendTo('Test-Lookahead', 'alice');

    const result = await waitFor(async () => {
      const current = (await local.handle('GetCommandInvocation', {
        CommandId: commandId,
        InstanceId: ONLINE,
      })) as { Status: string; StatusDetails: string; ResponseCode: number; StandardOutputContent: string };
      return TERMINAL.has(current.Status) ? current : undefined;
    });

    expect(result).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: -1 });
    const listed = (await local.handle('ListCommandInvocations', { CommandId: commandId })) as {
      CommandInvocations: { Status: string; TraceOutput: string }[];
    };
    expect(listed.CommandInvocations[0]).toMatchObject({
      Status: 'Failed',
      TraceOutput:
        "all errors during param validation errors: error thrown in 'AllowedRegexParamValidator' while validating parameter /name/: encountered error while compiling allowed pattern - internal error: error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
    });
    expect(existsSync(join(workDir, 'ran-alice'))).toBe(false);
    await waitFor(() => agentEvents.some((event) => event.detail['command-id'] === commandId));
    expect(
      agentEvents.filter((event) => event.detail['command-id'] === commandId).map((e) => e.detail.status),
    ).toEqual(['Failed']);
  });

  it('runs the command when the pattern compiles and the value matches it', async () => {
    const commandId = await sendTo('Test-Plain', 'bob');

    await waitFor(() => existsSync(join(workDir, 'ran-bob')));
    const result = await waitFor(async () => {
      const current = (await local.handle('GetCommandInvocation', {
        CommandId: commandId,
        InstanceId: ONLINE,
      })) as { Status: string };
      return TERMINAL.has(current.Status) ? current : undefined;
    });
    expect(result.Status).toBe('Success');
  });

  it.each([
    ['a final line break', 'bob\n'],
    ['a shell metacharacter', 'bob;id'],
    ['more characters than maxChars', 'b'.repeat(21)],
  ])('refuses %s at SendCommand with InvalidParameters', async (_, name) => {
    await expect(sendTo('Test-Plain', name)).rejects.toMatchObject({ name: 'InvalidParameters' });
  });
});
