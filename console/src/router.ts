import { TASK_STATUSES, type TaskStatus } from '../../functions/core/task-statuses.ts';

/** The console's pages, addressed by the URL's hash so that the page itself stays at /console. */
export type Route =
  | { page: 'tasks'; filter: TaskFilter }
  | { page: 'task'; taskId: number }
  | { page: 'subtask'; taskId: number; subtaskId: number }
  | { page: 'hosts'; hostIds: string; pageNumber: number }
  | { page: 'restart'; hostIds: string }
  | { page: 'not-found'; hash: string };

/** The task list's filter and page, as GET /api/v2/tasks/instances takes them. */
export interface TaskFilter {
  hostId?: string;
  status?: TaskStatus;
  name?: string;
  page: number;
}

const STATUSES: ReadonlySet<string> = new Set(TASK_STATUSES);
const ID = /^[1-9][0-9]{0,18}$/;

export function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#/, '').split('?', 2);
  const query = new URLSearchParams(search);
  const parts = path.split('/').filter((part) => part !== '');
  const pageNumber = positive(query.get('page'));
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'tasks')) {
    const status = query.get('status') ?? '';
    return {
      page: 'tasks',
      filter: {
        ...(query.get('hostId') ? { hostId: query.get('hostId')! } : {}),
        ...(STATUSES.has(status) ? { status: status as TaskFilter['status'] } : {}),
        ...(query.get('name') ? { name: query.get('name')! } : {}),
        page: pageNumber,
      },
    };
  }
  if (parts[0] === 'tasks' && parts[1] && ID.test(parts[1])) {
    const taskId = Number(parts[1]);
    if (parts.length === 2) return { page: 'task', taskId };
    if (parts.length === 4 && parts[2] === 'subtasks' && parts[3] && ID.test(parts[3]))
      return { page: 'subtask', taskId, subtaskId: Number(parts[3]) };
  }
  if (parts.length === 1 && parts[0] === 'hosts')
    return { page: 'hosts', hostIds: query.get('id') ?? '', pageNumber };
  if (parts.length === 1 && parts[0] === 'restart')
    return { page: 'restart', hostIds: query.get('hosts') ?? '' };
  return { page: 'not-found', hash };
}

export function routeHash(route: Route): string {
  switch (route.page) {
    case 'tasks': {
      const { page, ...filter } = route.filter;
      const query = new URLSearchParams(
        Object.entries({ ...filter, ...(page > 1 ? { page: String(page) } : {}) }).filter(
          (entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1] !== '',
        ),
      ).toString();
      return `#/tasks${query ? `?${query}` : ''}`;
    }
    case 'task':
      return `#/tasks/${route.taskId}`;
    case 'subtask':
      return `#/tasks/${route.taskId}/subtasks/${route.subtaskId}`;
    case 'hosts': {
      const query = new URLSearchParams({
        ...(route.hostIds ? { id: route.hostIds } : {}),
        ...(route.pageNumber > 1 ? { page: String(route.pageNumber) } : {}),
      }).toString();
      return `#/hosts${query ? `?${query}` : ''}`;
    }
    case 'restart':
      return `#/restart${route.hostIds ? `?hosts=${encodeURIComponent(route.hostIds)}` : ''}`;
    case 'not-found':
      return route.hash;
  }
}

function positive(raw: string | null): number {
  const value = Number(raw);
  return Number.isInteger(value) && value >= 1 ? value : 1;
}
