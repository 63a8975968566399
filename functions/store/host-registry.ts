import { GetItemCommand, paginateScan } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { dynamodb } from '#aws/dynamodb';
import { HostNotFound } from '#core/errors';
import { DEFAULT_AGENT_HOME, DEFAULT_CONTROL_SCRIPT, isValidHostParameter } from '#core/host-parameters';
import { getItems } from './bulk-items.ts';

/** A host the product may act on: its OCP host id and its SSM managed-instance id. */
export interface HostRecord {
  hostId: number;
  instanceId: string;
  agentHome: string;
  /** The agent's control script, relative to agentHome. */
  controlScript: string;
  hostname?: string;
}

export class HostRegistry {
  constructor(private readonly tableName: string) {}

  async find(hostId: bigint): Promise<HostRecord | undefined> {
    const result = await dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: { hostId: { N: hostId.toString() } } }),
    );
    return result.Item ? hostOf(unmarshall(result.Item)) : undefined;
  }

  /** The registered hosts among these (100 to a BatchGetItem), by host id; an unregistered one is absent. */
  async findMany(hostIds: readonly number[]): Promise<Map<number, HostRecord>> {
    const items = await getItems(
      this.tableName,
      [...new Set(hostIds)].map((hostId) => ({ hostId: { N: String(hostId) } })),
      { consistentRead: false },
    );
    const hosts = items.map((item) => hostOf(unmarshall(item)));
    return new Map(hosts.map((host) => [host.hostId, host]));
  }

  /**
   * Every registered host, read by a Scan paged by DynamoDB (1 MB to a call, eventually consistent).
   * What bounds it is the fleet: a host item is about 200 bytes, so 10,000 hosts are 2 MB, three calls
   * and about 250 read units. The task table, which grows with every task, is never read this way.
   */
  async all(): Promise<HostRecord[]> {
    const hosts: HostRecord[] = [];
    for await (const page of paginateScan({ client: dynamodb }, { TableName: this.tableName })) {
      for (const item of page.Items ?? []) hosts.push(hostOf(unmarshall(item)));
    }
    return hosts;
  }
}

function hostOf(item: Record<string, unknown>): HostRecord {
  return {
    hostId: Number(item.hostId),
    instanceId: String(item.instanceId),
    agentHome: typeof item.agentHome === 'string' ? item.agentHome : DEFAULT_AGENT_HOME,
    controlScript: typeof item.controlScript === 'string' ? item.controlScript : DEFAULT_CONTROL_SCRIPT,
    ...(typeof item.hostname === 'string' ? { hostname: item.hostname } : {}),
  };
}

/** True when every value of the host that travels to its shell matches its SSM allowedPattern. */
export function hasValidHostParameters(host: HostRecord): boolean {
  return (
    isValidHostParameter('instanceId', host.instanceId) &&
    isValidHostParameter('agentHome', host.agentHome) &&
    isValidHostParameter('controlScript', host.controlScript)
  );
}

/**
 * The host a command may be sent to. A host that is not registered, or whose record holds a value
 * that would not pass its SSM allowedPattern, is answered as not existing (HostNotFound).
 */
export function requireCommandableHost(host: HostRecord | undefined, hostId: bigint | number): HostRecord {
  if (!host || !hasValidHostParameters(host)) throw new HostNotFound(hostId);
  return host;
}
