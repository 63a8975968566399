import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { DEFAULT_AGENT_HOME } from '#core/host-parameters';

export { DEFAULT_AGENT_HOME };

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
