import { type AgentProcessState, type AgentStatus, judgeAgentProcesses } from '#core/agent-status';
import { commandProgress } from '#core/command-outcome';
import { AgentStatusUnavailable, HostUnreachable } from '#core/errors';
import * as z from '#core/schema';
import { ocpTimestamp } from '#core/time';
import { type HostRegistry, requireCommandableHost } from '#store/host-registry';
import { type HostCommands, InstanceNotCommandable } from './ports.ts';

export type { AgentStatus };

/** What agent-status.sh prints on the host: each agent process and whether it runs. */
const AgentStatusReport = z.object({
  processes: z
    .array(z.object({ name: z.string(), pid: z.nullable(z.number().check(z.int())), running: z.boolean() }))
    .check(z.minLength(1)),
});

const STATUS_WAIT_SECONDS = 20;

/** Asks the host, through SSM, which agent processes run, and judges the agent by them. */
export async function getAgentStatus(
  hostId: bigint,
  deps: { hosts: HostRegistry; hostCommands: HostCommands; documentName: string; waitSeconds?: number },
): Promise<AgentStatus> {
  const host = requireCommandableHost(await deps.hosts.find(hostId), hostId);
  const waitSeconds = deps.waitSeconds ?? STATUS_WAIT_SECONDS;
  let commandId: string | undefined;
  try {
    commandId = await deps.hostCommands.send({
      documentName: deps.documentName,
      instanceId: host.instanceId,
      parameters: { agentHome: host.agentHome, controlScript: host.controlScript },
      comment: `ocp-agent-restart agent status host=${host.hostId}`,
      deliveryTimeoutSeconds: 30,
    });
  } catch (error) {
    if (error instanceof InstanceNotCommandable) {
      throw new HostUnreachable(
        host.hostId,
        `SSM refused the command for instance ${host.instanceId} (${error.code}): its SSM Agent is not registered, not running or not in a valid state`,
      );
    }
    throw error;
  }
  if (!commandId) throw new AgentStatusUnavailable('SSM returned no command id');
  await deps.hostCommands.waitForEnd(commandId, host.instanceId, waitSeconds);
  const invocation = await deps.hostCommands.invocation(commandId, host.instanceId);
  if (!invocation || commandProgress(invocation) === 'undelivered') {
    try {
      await deps.hostCommands.cancel(commandId);
    } catch {
      // Best effort: the command only reads, and SSM drops it when its delivery timeout passes.
    }
    throw new HostUnreachable(
      host.hostId,
      `its SSM Agent is offline (the status command was not delivered to ${host.instanceId} within ${waitSeconds} s)`,
    );
  }
  if (invocation.status !== 'Success') {
    throw new AgentStatusUnavailable(`the status command ended ${invocation.status} on ${host.instanceId}`);
  }
  let processes: AgentProcessState[];
  try {
    ({ processes } = AgentStatusReport.parse(JSON.parse(invocation.stdout)));
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
