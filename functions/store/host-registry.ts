import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';

/** Default install directory of the OCP agent on a host. */
export const DEFAULT_AGENT_HOME = '/home/admin/ocp_agent';

/** A host the product may act on: its OCP host id and its SSM managed-instance id. */
export interface HostRecord {
  hostId: number;
  instanceId: string;
  agentHome: string;
  hostname?: string;
}

export class HostRegistry {
  constructor(private readonly tableName: string) {}

  async find(hostId: bigint): Promise<HostRecord | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: { hostId: { N: hostId.toString() } } }),
    );
    if (!result.Item) return undefined;
    const item = unmarshall(result.Item);
    return {
      hostId: Number(item.hostId),
      instanceId: String(item.instanceId),
      agentHome: typeof item.agentHome === 'string' ? item.agentHome : DEFAULT_AGENT_HOME,
      ...(typeof item.hostname === 'string' ? { hostname: item.hostname } : {}),
    };
  }
}
