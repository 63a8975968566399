import {
  GetCommandInvocationCommand,
  SendCommandCommand,
  waitUntilCommandExecuted,
} from '@aws-sdk/client-ssm';
import { ssm } from '#aws/ssm';
import { AgentStatusUnavailable, HostNotFound } from '#core/errors';
import * as z from '#core/schema';
import { ocpTimestamp } from '#core/time';
import { type HostRegistry, hasValidHostParameters } from '#store/host-registry';

/** What agent-status.sh prints on the host. */
const AgentStatusReport = z.object({
  status: z.enum(['STARTED', 'STOPPED']),
  processes: z.array(
    z.object({ name: z.string(), pid: z.nullable(z.number().check(z.int())), running: z.boolean() }),
  ),
});

export interface AgentStatus {
  hostId: number;
  status: 'STARTED' | 'STOPPED';
  processes: { name: string; pid: number | null; running: boolean }[];
  checkedAt: string;
}

const STATUS_WAIT_SECONDS = 20;

/** Asks the host, through SSM, which agent processes run; STARTED when all of them do. */
export async function getAgentStatus(
  hostId: bigint,
  deps: { hosts: HostRegistry; documentName: string },
): Promise<AgentStatus> {
  const host = await deps.hosts.find(hostId);
  if (!host || !hasValidHostParameters(host)) {
    throw new HostNotFound(hostId);
  }
  const sent = await ssm.send(
    new SendCommandCommand({
      DocumentName: deps.documentName,
      InstanceIds: [host.instanceId],
      Parameters: { agentHome: [host.agentHome], controlScript: [host.controlScript] },
      Comment: `ocp-agent-restart agent status host=${host.hostId}`,
      TimeoutSeconds: 30,
    }),
  );
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new AgentStatusUnavailable('SSM returned no command id');
  const query = { CommandId: commandId, InstanceId: host.instanceId };
  try {
    await waitUntilCommandExecuted(
      { client: ssm, maxWaitTime: STATUS_WAIT_SECONDS, minDelay: 1, maxDelay: 2 },
      query,
    );
  } catch {
    // The waiter also ends on a failed command; the invocation below says which.
  }
  const invocation = await ssm.send(new GetCommandInvocationCommand(query));
  if (invocation.Status !== 'Success') {
    throw new AgentStatusUnavailable(`the status command ended ${invocation.Status} on ${host.instanceId}`);
  }
  let report: z.infer<typeof AgentStatusReport>;
  try {
    report = AgentStatusReport.parse(JSON.parse(invocation.StandardOutputContent ?? ''));
  } catch {
    throw new AgentStatusUnavailable('the status command printed an unreadable report');
  }
  return { hostId: host.hostId, ...report, checkedAt: ocpTimestamp(new Date()) };
}
