import type { Permission } from '#core/identity';
import type { RouteId } from './routes.ts';

/**
 * The OCP permissions of which a caller needs one for each route: the API function refuses the
 * others before it acts, and the console shows an action only to a caller who holds one.
 */
export const ROUTE_PERMISSIONS = {
  restartAgent: ['HOST_MANAGER'],
  batchRestartAgents: ['HOST_MANAGER'],
  getAgentStatus: ['HOST_VIEWER', 'HOST_MANAGER'],
  listHosts: ['HOST_VIEWER', 'HOST_MANAGER'],
  getHost: ['HOST_VIEWER', 'HOST_MANAGER'],
  getTask: ['TASK_VIEWER', 'TASK_MANAGER'],
  listTasks: ['TASK_VIEWER', 'TASK_MANAGER'],
  getSubtaskLog: ['TASK_VIEWER', 'TASK_MANAGER'],
  retryTask: ['TASK_MANAGER'],
  cancelTask: ['TASK_MANAGER'],
  rollbackTask: ['TASK_MANAGER'],
  skipSubtask: ['TASK_MANAGER'],
  cancelSubtask: ['TASK_MANAGER'],
} as const satisfies Record<RouteId, readonly Permission[]>;

/** Whether a caller holding `held` may call the route. */
export function mayCall(route: RouteId, held: ReadonlySet<string>): boolean {
  return ROUTE_PERMISSIONS[route].some((permission) => held.has(permission));
}
