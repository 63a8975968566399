import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandTimeouts } from '#core/command-timeouts';
import { SCRIPT_RESERVE_SECONDS, worstCaseWaitSeconds } from '#core/script-waits';
import { RESTART_SUBTASKS } from '#core/subtasks';
import {
  createDemoHost,
  type DemoHost,
  demoAgentProcesses,
  isLiveProcess,
  setDemoMode,
  startDemoAgent,
} from '#local/demo-hosts';
import { LocalSsm } from '#local/services/ssm';
import {
  commandDocuments,
  renderRunCommand,
  type SsmCommandDocumentContent,
} from '../../host-scripts/command-documents.ts';
import { demoRoot, waitFor } from './host-script-harness.ts';

/**
 * The worst case of a subtask's waits, run for real through the real document under the local SSM
 * (which kills a command at its execution timeout, as the agent does): the script must fail on its
 * own, with its exit code and message, before that timeout.
 */

const POS_PROXY = RESTART_SUBTASKS.find((subtask) => subtask.key === 'restartPosProxy')!;
const { executionTimeoutSeconds } = commandTimeouts(POS_PROXY.timeoutSeconds);
const { stopGraceSeconds = 0, startWaitSeconds = 0 } = POS_PROXY.scriptWaits;
const TERMINAL = new Set(['Success', 'Failed', 'TimedOut', 'Cancelled']);

interface Invocation {
  Status: string;
  StatusDetails: string;
  ResponseCode: number;
  ExecutionStartDateTime: string;
  ExecutionEndDateTime: string;
  StandardOutputContent: string;
  StandardErrorContent: string;
}

let root: ReturnType<typeof demoRoot>;
let host: DemoHost;
let ssm: LocalSsm<SsmCommandDocumentContent>;

beforeEach(async () => {
  root = demoRoot();
  host = createDemoHost(root.root, 1, { mode: 'fast' });
  await startDemoAgent(host);
  ssm = new LocalSsm({
    documents: Object.fromEntries(commandDocuments().map((document) => [document.key, document.content])),
    renderRunCommand,
    instances: () => ({ workDir: host.hostDir, online: true }),
    emit: () => undefined,
  });
});

afterEach(async () => {
  await ssm.close();
  await root.cleanUp();
});

async function finished(commandId: string): Promise<Invocation> {
  const deadline = Date.now() + (executionTimeoutSeconds + 10) * 1000;
  for (;;) {
    const current = (await ssm.handle('GetCommandInvocation', {
      CommandId: commandId,
      InstanceId: host.instanceId,
    })) as Invocation;
    if (TERMINAL.has(current.Status)) return current;
    if (Date.now() >= deadline) throw new Error(`Command ${commandId} is still ${current.Status}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('restart pos proxy at its worst', { timeout: (executionTimeoutSeconds + 20) * 1000 }, () => {
  it('fails with its own exit code and message before its execution timeout when pos_proxy ignores SIGTERM and never comes back', async () => {
    setDemoMode(host, 'stubborn');
    const oldPosProxy = demoAgentProcesses(host)[3]!.pid!;
    const ctlPidFile = join(host.agentHome, 'run', 'hanging_ctl.pid');
    writeFileSync(
      join(host.agentHome, 'bin', 'hanging_ctl'),
      [
        '#!/usr/bin/env bash',
        "trap '' TERM",
        `printf '%s\\n' "$$" >'${ctlPidFile}'`,
        'exec sleep 300',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );

    const sent = (await ssm.handle('SendCommand', {
      DocumentName: POS_PROXY.key,
      InstanceIds: [host.instanceId],
      Parameters: { agentHome: [host.agentHome], controlScript: ['bin/hanging_ctl'] },
    })) as { Command: { CommandId: string } };
    const result = await finished(sent.Command.CommandId);

    expect(result).toMatchObject({ Status: 'Failed', StatusDetails: 'Failed', ResponseCode: 4 });
    expect(result.StandardOutputContent).toContain(
      `pos_proxy (pid ${oldPosProxy}) did not exit within ${stopGraceSeconds}.000s: SIGKILL`,
    );
    expect(result.StandardErrorContent).toContain(
      `restart-pos-proxy: ERROR: ${host.agentHome}/bin/hanging_ctl start pos_proxy did not finish within ${startWaitSeconds}.000s (SIGKILLed)`,
    );
    const elapsedMs = Date.parse(result.ExecutionEndDateTime) - Date.parse(result.ExecutionStartDateTime);
    // It waited out its grace and its start wait, and no more than its budget allows.
    expect(elapsedMs).toBeGreaterThanOrEqual((stopGraceSeconds + startWaitSeconds) * 1000);
    expect(elapsedMs).toBeLessThanOrEqual(
      (worstCaseWaitSeconds(POS_PROXY.scriptWaits) + SCRIPT_RESERVE_SECONDS) * 1000,
    );
    expect(elapsedMs).toBeLessThan(executionTimeoutSeconds * 1000);
    expect(isLiveProcess(oldPosProxy)).toBe(false);
    const ctlPid = Number(readFileSync(ctlPidFile, 'utf8'));
    await waitFor(() => !isLiveProcess(ctlPid));
  });
});
