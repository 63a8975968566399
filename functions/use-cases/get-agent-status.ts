import {
  CancelCommandCommand,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  waitUntilCommandExecuted,
} from '@aws-sdk/client-ssm';
import { ssm } from '#aws/ssm';
import { type AgentProcessState, type AgentState, judgeAgentProcesses } from '#core/agent-status';
import { AgentStatusUnavailable, HostUnreachable } from '#core/errors';
import * as z from '#core/schema';
import { ocpTimestamp } from '#core/time';
import { type HostRegistry, requireCommandableHost } from '#store/host-registry';

/** What agent-status.sh prints on the host: each agent process and whether it runs. */
const AgentStatusReport = z.object({
  processes: z
    .array(z.object({ name: z.string(), pid: z.nullable(z.number().check(z.int())), running: z.boolean() }))
    .check(z.minLength(1)),
});

export interface AgentStatus {
  hostId: number;
  status: AgentState;
  /** Which processes run and which do not, in a sentence. */
  summary: string;
  processes: AgentProcessState[];
  checkedAt: string;
}

const STATUS_WAIT_SECONDS = 20;
/** SendCommand's refusals that are about the instance: SSM does not know it or cannot run the document there. */
const INSTANCE_REFUSALS: ReadonlySet<string> = new Set(['InvalidInstanceId', 'UnsupportedPlatformType']);
/** Invocation states of a command that never reached the host's SSM Agent. */
const UNDELIVERED: ReadonlySet<string | undefined> = new Set([
  'Pending',
  'Delayed',
  'Undeliverable',
  'DeliveryTimedOut',
]);

/** Asks the host, through SSM, which agent processes run, and judges the agent by them. */
export async function getAgentStatus(
  hostId: bigint,
  deps: { hosts: HostRegistry; documentName: string; waitSeconds?: number },
): Promise<AgentStatus> {
  const host = requireCommandableHost(await deps.hosts.find(hostId), hostId);
  const waitSeconds = deps.waitSeconds ?? STATUS_WAIT_SECONDS;
  let commandId: string | undefined;
  try {
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: deps.documentName,
        InstanceIds: [host.instanceId],
        Parameters: { agentHome: [host.agentHome], controlScript: [host.controlScript] },
        Comment: `ocp-agent-restart agent status host=${host.hostId}`,
        TimeoutSeconds: 30,
      }),
    );
    commandId = sent.Command?.CommandId;
  } catch (error) {
    if (error instanceof Error && INSTANCE_REFUSALS.has(error.name)) {
      throw new HostUnreachable(
        host.hostId,
        `SSM refused the command for instance ${host.instanceId} (${error.name}): its SSM Agent is not registered, not running or not in a valid state`,
      );
    }
    throw error;
  }
  if (!commandId) throw new AgentStatusUnavailable('SSM returned no command id');
  const query = { CommandId: commandId, InstanceId: host.instanceId };
  try {
    await waitUntilCommandExecuted(
      { client: ssm, maxWaitTime: waitSeconds, minDelay: 1, maxDelay: 2 },
      query,
    );
  } catch {
    // The waiter also ends on a failed command; the invocation below says which.
  }
  const invocation = await currentInvocation(query);
  if (
    !invocation ||
    UNDELIVERED.has(invocation.Status) ||
    UNDELIVERED.has(invocation.StatusDetails?.replaceAll(' ', ''))
  ) {
    try {
      await ssm.send(new CancelCommandCommand({ CommandId: commandId }));
    } catch {
      // Best effort: the command only reads, and SSM drops it when its delivery timeout passes.
    }
    throw new HostUnreachable(
      host.hostId,
      `its SSM Agent is offline (the status command was not delivered to ${host.instanceId} within ${waitSeconds} s)`,
    );
  }
  if (invocation.Status !== 'Success') {
    throw new AgentStatusUnavailable(`the status command ended ${invocation.Status} on ${host.instanceId}`);
  }
  let processes: AgentProcessState[];
  try {
    ({ processes } = AgentStatusReport.parse(JSON.parse(invocation.StandardOutputContent ?? '')));
  } catch {
    throw new AgentStatusUnavailable('the status command printed an unreadable report');
  }
  return {
    hostId: host.hostId,
    ...judgeAgentProcesses(processes),
    processes,
    checkedAt: ocpTimestamp(new Date()),
  };
}

/** The invocation, or nothing when SSM has not created it (the command has not reached the instance). */
async function currentInvocation(query: {
  CommandId: string;
  InstanceId: string;
}): Promise<GetCommandInvocationCommandOutput | undefined> {
  try {
    return await ssm.send(new GetCommandInvocationCommand(query));
  } catch (error) {
    if (error instanceof Error && error.name === 'InvocationDoesNotExist') return undefined;
    throw error;
  }
}
