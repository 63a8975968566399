import { describe, expect, it } from 'vitest';
import { parseRoute, type Route, routeHash } from '../../../console/src/router.ts';

describe('the console’s hash routes', () => {
  it.each<[string, Route]>([
    ['', { page: 'tasks', filter: { page: 1 } }],
    ['#/tasks', { page: 'tasks', filter: { page: 1 } }],
    [
      '#/tasks?hostId=2&status=FAILED&name=Restart&page=3',
      { page: 'tasks', filter: { hostId: '2', status: 'FAILED', name: 'Restart', page: 3 } },
    ],
    ['#/tasks/12', { page: 'task', taskId: 12 }],
    ['#/tasks/12/subtasks/3', { page: 'subtask', taskId: 12, subtaskId: 3 }],
    ['#/hosts', { page: 'hosts', hostIds: '', pageNumber: 1 }],
    ['#/hosts?id=1,2&page=2', { page: 'hosts', hostIds: '1,2', pageNumber: 2 }],
    ['#/restart?hosts=1%2C2', { page: 'restart', hostIds: '1,2' }],
  ])('%s', (hash, route) => {
    expect(parseRoute(hash)).toEqual(route);
    expect(parseRoute(routeHash(route))).toEqual(route);
  });

  it('ignores a status or page the API does not take, and names unknown pages', () => {
    expect(parseRoute('#/tasks?status=BOGUS&page=-1')).toEqual({ page: 'tasks', filter: { page: 1 } });
    expect(parseRoute('#/tasks/abc')).toEqual({ page: 'not-found', hash: '#/tasks/abc' });
    expect(parseRoute('#/tasks/0')).toEqual({ page: 'not-found', hash: '#/tasks/0' });
    expect(parseRoute('#/nope')).toEqual({ page: 'not-found', hash: '#/nope' });
  });
});
