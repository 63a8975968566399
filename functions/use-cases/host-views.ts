import { type OcpPage, ocpPage } from '#core/envelope';
import { type OcpHost, pageOfHosts, toOcpHost } from '#core/host-view';
import type { HostListQuery } from '#http/host-list-query';
import { type HostRegistry, hasValidHostParameters, requireCommandableHost } from '#store/host-registry';
import type { TaskStore } from '#store/task-store';

interface HostViewDependencies {
  hosts: Pick<HostRegistry, 'find' | 'findMany' | 'all'>;
  tasks: Pick<TaskStore, 'lockHolder' | 'lockHolders'>;
}

/**
 * A page of the registered hosts, by id, each with the task holding it if any. A host whose record
 * would not pass its SSM allowedPattern is left out, as every other route answers it as not existing.
 * The page's locks are one batched read (a page holds at most 100 hosts).
 */
export async function listHosts(query: HostListQuery, deps: HostViewDependencies): Promise<OcpPage<OcpHost>> {
  const registered = query.hostIds
    ? [...(await deps.hosts.findMany(query.hostIds)).values()]
    : await deps.hosts.all();
  const { hosts, totalElements } = pageOfHosts(
    registered.filter(hasValidHostParameters),
    query.page,
    query.size,
  );
  const holders =
    hosts.length > 0 ? await deps.tasks.lockHolders(hosts.map((host) => host.hostId)) : new Map();
  return ocpPage(
    hosts.map((host) => toOcpHost(host, holders.get(host.hostId))),
    totalElements,
    query.page,
    query.size,
  );
}

/** One registered host and the task holding it; HostNotFound as for every route naming a host. */
export async function getHost(hostId: bigint, deps: HostViewDependencies): Promise<OcpHost> {
  const host = requireCommandableHost(await deps.hosts.find(hostId), hostId);
  return toOcpHost(host, await deps.tasks.lockHolder(host.hostId));
}
