/** A registered host as the host table records it (store/host-registry.ts's HostRecord). */
export interface RegisteredHost {
  hostId: number;
  instanceId: string;
  agentHome: string;
  controlScript: string;
  hostname?: string;
}

/**
 * A host in OCP's shape (GET /api/v2/compute/hosts), as far as the product knows one: OCP's `id` and
 * `name` (the registered hostname, null when none is), then what this product adds: the host's
 * registration and whether an agent operation holds it. OCP's other host fields (IP address, IDC,
 * services, status…) are not known here and are left out rather than guessed.
 */
export interface OcpHost {
  id: number;
  name: string | null;
  /** The SSM managed-instance id commands are sent to. */
  instanceId: string;
  agentHome: string;
  /** The agent's control script, relative to agentHome. */
  controlScript: string;
  /** True while an agent operation (a restart task) holds the host's lock. */
  busy: boolean;
  /** The task holding the host's lock, null when the host is free. */
  runningTaskId: number | null;
}

export function toOcpHost(host: RegisteredHost, lockHolder: number | undefined): OcpHost {
  return {
    id: host.hostId,
    name: host.hostname ?? null,
    instanceId: host.instanceId,
    agentHome: host.agentHome,
    controlScript: host.controlScript,
    busy: lockHolder !== undefined,
    runningTaskId: lockHolder ?? null,
  };
}

/** Page `page` (from 1) of `size` hosts, by id ascending (OCP's default order), and how many there are. */
export function pageOfHosts<T extends { hostId: number }>(
  hosts: readonly T[],
  page: number,
  size: number,
): { hosts: T[]; totalElements: number } {
  const sorted = [...hosts].sort((a, b) => a.hostId - b.hostId);
  return { hosts: sorted.slice((page - 1) * size, page * size), totalElements: sorted.length };
}
