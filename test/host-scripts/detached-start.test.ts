import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createDemoHost,
  type DemoHost,
  demoAgentProcesses,
  isLiveProcess,
  setDemoMode,
} from '#local/demo-hosts';
import { LocalSsm } from '#local/services/ssm';
import {
  type CommandDocument,
  commandDocuments,
  renderRunCommand,
  type SsmCommandDocumentContent,
} from '../../host-scripts/command-documents.ts';
import { demoRoot, waitFor } from './host-script-harness.ts';

/**
 * The SSM agent ends a command only when its script has exited and its stdout and stderr have
 * closed, and on timeout or cancel SIGKILLs the command's process group. The demo control script
 * leaves what it starts attached to its caller (as a real one may), so these run the real
 * documents through the local SSM, which follows those rules, and check that the scripts detach
 * the agent they start.
 */

const HELD_TIMEOUT_SECONDS = 3;
/** Far below every real document's timeout: a start that waited for the agent's pipes would miss it. */
const PROMPT_MS = 10_000;

function documentFor(key: CommandDocument['key']): CommandDocument {
  const document = commandDocuments().find((candidate) => candidate.key === key);
  if (!document) throw new Error(`No document ${key}`);
  return document;
}

/** `content` with lines appended to its script and another execution timeout. */
function extended(
  content: SsmCommandDocumentContent,
  lines: string[],
  timeoutSeconds: number,
): SsmCommandDocumentContent {
  const copy = structuredClone(content);
  const step = copy.mainSteps[0]!;
  step.inputs = { timeoutSeconds, runCommand: [...step.inputs.runCommand, ...lines] };
  return copy;
}

const startAgent = documentFor('startAgent').content;
/** The real start-agent script, then a wait that keeps the command running until it is stopped. */
const HELD_START = extended(
  startAgent,
  ['sleep 300 &', 'printf "%s\\n" "$!" >"$AGENT_HOME/../held.pid"', 'wait'],
  HELD_TIMEOUT_SECONDS,
);
/** What the scripts must not do: call the control script as it is, attached to the command. */
const NAIVE_START: SsmCommandDocumentContent = {
  ...startAgent,
  mainSteps: [
    {
      ...startAgent.mainSteps[0]!,
      inputs: {
        timeoutSeconds: HELD_TIMEOUT_SECONDS,
        runCommand: [
          '#!/usr/bin/env bash',
          "export AGENT_HOME='{{ agentHome }}'",
          '"$AGENT_HOME/bin/ocp_agentctl" start',
        ],
      },
    },
  ],
};

const DOCUMENTS: Record<string, SsmCommandDocumentContent> = {
  ...Object.fromEntries(commandDocuments().map((document) => [document.key, document.content])),
  heldStart: HELD_START,
  naiveStart: NAIVE_START,
};

const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

let root: ReturnType<typeof demoRoot>;
let host: DemoHost;
let ssm: LocalSsm<SsmCommandDocumentContent>;

beforeAll(() => {
  ssm = new LocalSsm({
    documents: DOCUMENTS,
    renderRunCommand,
    instances: () => ({ workDir: host.hostDir, online: true }),
    emit: () => undefined,
  });
});

afterAll(async () => {
  await ssm?.close();
});

beforeEach(() => {
  root = demoRoot();
  host = createDemoHost(root.root, 1, { mode: 'fast' });
});

afterEach(async () => {
  await root.cleanUp();
});

async function send(documentName: string): Promise<string> {
  const sent = (await ssm.handle('SendCommand', {
    DocumentName: documentName,
    InstanceIds: [host.instanceId],
    Parameters: { agentHome: [host.agentHome] },
  })) as { Command: { CommandId: string } };
  return sent.Command.CommandId;
}

interface Invocation {
  Status: string;
  StatusDetails: string;
  ResponseCode: number;
  StandardOutputContent: string;
  StandardErrorContent: string;
}

function invocation(commandId: string): Promise<Invocation> {
  return ssm.handle('GetCommandInvocation', {
    CommandId: commandId,
    InstanceId: host.instanceId,
  }) as Promise<Invocation>;
}

async function finished(commandId: string, timeoutMs: number): Promise<Invocation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await invocation(commandId);
    if (TERMINAL.has(current.Status)) return current;
    if (Date.now() >= deadline) {
      throw new Error(`Command ${commandId} is still ${current.Status} after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function agentPids(): number[] {
  return demoAgentProcesses(host).map((agentProcess) => agentProcess.pid ?? 0);
}

function allRunning(): boolean {
  return demoAgentProcesses(host).every((agentProcess) => agentProcess.running);
}

function heldSleepPid(): number {
  return Number(readFileSync(join(host.hostDir, 'held.pid'), 'utf8'));
}

describe('the real documents under the SSM agent’s rules', { timeout: 30_000 }, () => {
  it('start-agent ends as soon as the agent is up, and the agent outlives the command', async () => {
    expect(startAgent.mainSteps[0]!.inputs.timeoutSeconds * 1000).toBeGreaterThan(PROMPT_MS);
    const started = Date.now();

    const result = await finished(await send('startAgent'), PROMPT_MS);

    expect(result.Status).toBe('Success');
    expect(Date.now() - started).toBeLessThan(PROMPT_MS);
    expect(result.StandardOutputContent).toContain('All OCP agent processes are running');
    expect(allRunning()).toBe(true);
  });

  it('restart-pos-proxy ends as soon as pos_proxy is up, and pos_proxy outlives the command', async () => {
    expect((await finished(await send('startAgent'), PROMPT_MS)).Status).toBe('Success');

    const result = await finished(await send('restartPosProxy'), PROMPT_MS);

    expect(result.Status).toBe('Success');
    expect(allRunning()).toBe(true);
  });

  it('relays the control script’s errors and keeps exit code 4 when the start fails', async () => {
    setDemoMode(host, 'broken');

    const result = await finished(await send('startAgent'), PROMPT_MS);

    expect(result).toMatchObject({ Status: 'Failed', ResponseCode: 4 });
    expect(result.StandardErrorContent).toContain('ocp_agentctl: cannot start ocp_agentd');
    expect(result.StandardErrorContent).toMatch(/ocp_agentctl start .* failed with exit status 1/);
  });

  it.each([
    ['cancelled', 'Cancelled'],
    ['timed out', 'TimedOut'],
  ])('keeps the agent running when the command that started it is then %s', async (_, status) => {
    const commandId = await send('heldStart');
    // Past the start: the script waits on its own `sleep`.
    await waitFor(() => existsSync(join(host.hostDir, 'held.pid')), PROMPT_MS);
    expect(allRunning()).toBe(true);
    const pids = agentPids();
    if (status === 'Cancelled') await ssm.handle('CancelCommand', { CommandId: commandId });

    const result = await finished(commandId, PROMPT_MS);

    expect(result).toMatchObject({ Status: status, ResponseCode: 137 });
    // The command's own process group is gone: the SIGKILL has been delivered.
    await waitFor(() => !isLiveProcess(heldSleepPid()));
    expect(pids.every(isLiveProcess)).toBe(true);
    expect(agentPids()).toEqual(pids);
  });

  it('shows the failure they prevent: an attached start hangs until the timeout, which kills the new agent', async () => {
    const started = Date.now();

    const commandId = await send('naiveStart');
    await waitFor(allRunning, PROMPT_MS);
    const pids = agentPids();
    const result = await finished(commandId, PROMPT_MS);

    expect(result).toMatchObject({
      Status: 'TimedOut',
      StatusDetails: 'ExecutionTimedOut',
      ResponseCode: 137,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(HELD_TIMEOUT_SECONDS * 1000);
    expect(result.StandardOutputContent).toContain('pos_proxy started');
    await waitFor(() => !pids.some(isLiveProcess));
  });
});
