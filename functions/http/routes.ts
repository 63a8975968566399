/** The HTTP API's routes: the stack creates them, local mode serves them, the API function dispatches on them. */
export const API_ROUTES = {
  restartAgent: { method: 'POST', path: '/compute/hosts/{hostId}/agent/restart' },
  batchRestartAgents: { method: 'POST', path: '/compute/hosts/batchRestartAgents' },
  getAgentStatus: { method: 'GET', path: '/compute/hosts/{hostId}/agent' },
  listHosts: { method: 'GET', path: '/api/v2/compute/hosts' },
  getHost: { method: 'GET', path: '/api/v2/compute/hosts/{hostId}' },
  getTask: { method: 'GET', path: '/api/v2/tasks/instances/{id}' },
  listTasks: { method: 'GET', path: '/api/v2/tasks/instances' },
  getSubtaskLog: { method: 'GET', path: '/api/v2/tasks/instances/{id}/subtasks/{subtaskId}/log' },
  retryTask: { method: 'POST', path: '/api/v2/tasks/instances/{id}/retry' },
  /** Beyond OCP: cancel a batch (no new host starts; running hosts are cancelled). */
  cancelTask: { method: 'POST', path: '/api/v2/tasks/instances/{id}/cancel' },
  rollbackTask: { method: 'POST', path: '/api/v2/tasks/instances/{id}/rollback' },
  skipSubtask: { method: 'POST', path: '/api/v2/tasks/instances/{id}/subtasks/{subtaskId}/skip' },
  cancelSubtask: { method: 'POST', path: '/api/v2/tasks/instances/{id}/subtasks/{subtaskId}/cancel' },
} as const;

export type RouteId = keyof typeof API_ROUTES;

export const routeKey = (route: { method: string; path: string }) => `${route.method} ${route.path}`;

/**
 * Routes without the authorizer, answered by the consoleAssets function: the API's OpenAPI document
 * and the web console's page and files. None reads or changes data; the console signs in itself.
 */
export const STATIC_ROUTES = {
  openApi: { method: 'GET', path: '/openapi.json' },
  consolePage: { method: 'GET', path: '/console' },
  consoleAsset: { method: 'GET', path: '/console/{asset}' },
} as const;

export type StaticRouteId = keyof typeof STATIC_ROUTES;

/** The API's OpenAPI document (openapi.json). */
export const OPENAPI_ROUTE = STATIC_ROUTES.openApi;
