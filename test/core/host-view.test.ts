import { describe, expect, it } from 'vitest';
import { ocpPage } from '#core/envelope';
import { InvalidArgument } from '#core/errors';
import { pageOfHosts, toOcpHost } from '#core/host-view';
import { MAX_HOST_IDS, MAX_HOST_PAGE_SIZE, parseHostListQuery } from '#http/host-list-query';
import { BATCH_GET_KEYS } from '#store/bulk-items';

const host = (hostId: number, hostname?: string) => ({
  hostId,
  instanceId: `mi-${String(hostId).padStart(17, '0')}`,
  agentHome: '/home/admin/ocp_agent',
  controlScript: 'bin/ocp_agentctl',
  ...(hostname ? { hostname } : {}),
});

describe('toOcpHost', () => {
  it('answers a free host in OCP’s shape with its registration', () => {
    expect(toOcpHost(host(7, 'db-7'), undefined)).toEqual({
      id: 7,
      name: 'db-7',
      instanceId: 'mi-00000000000000007',
      agentHome: '/home/admin/ocp_agent',
      controlScript: 'bin/ocp_agentctl',
      busy: false,
      runningTaskId: null,
    });
  });

  it('names the task holding a busy host, and gives null for a name never registered', () => {
    expect(toOcpHost(host(8), 41)).toMatchObject({ id: 8, name: null, busy: true, runningTaskId: 41 });
  });
});

describe('pageOfHosts and ocpPage', () => {
  const hosts = [5, 1, 4, 2, 3].map((id) => host(id));

  it('pages hosts by id ascending, page counting from 1', () => {
    expect(pageOfHosts(hosts, 1, 2).hosts.map((h) => h.hostId)).toEqual([1, 2]);
    expect(pageOfHosts(hosts, 3, 2)).toMatchObject({ hosts: [{ hostId: 5 }], totalElements: 5 });
  });

  it('answers an empty page past the end, with the total still counted', () => {
    expect(pageOfHosts(hosts, 4, 2)).toEqual({ hosts: [], totalElements: 5 });
    expect(ocpPage([], 5, 4, 2)).toEqual({
      contents: [],
      page: { totalElements: 5, totalPages: 3, number: 4, size: 2 },
    });
  });

  it('counts no pages for no hosts', () => {
    expect(ocpPage([], 0, 1, 10).page).toEqual({ totalElements: 0, totalPages: 0, number: 1, size: 10 });
  });
});

describe('parseHostListQuery', () => {
  it('defaults to the first page of 10, every host', () => {
    expect(parseHostListQuery(undefined)).toEqual({ page: 1, size: 10 });
    expect(parseHostListQuery({ page: '3', size: '100' })).toEqual({ page: 3, size: 100 });
  });

  it('takes one id or several (repeated ids arrive joined by commas), each once', () => {
    expect(parseHostListQuery({ id: '2' })).toEqual({ hostIds: [2], page: 1, size: 10 });
    expect(parseHostListQuery({ id: '3,1,3' }).hostIds).toEqual([3, 1]);
  });

  it('keeps an id beyond JavaScript numbers out of the filter: it names no host', () => {
    expect(parseHostListQuery({ id: '9223372036854775807,2' }).hostIds).toEqual([2]);
  });

  it('reads a page’s locks in one batched read: a page, and an id filter, hold at most 100 hosts', () => {
    expect(MAX_HOST_PAGE_SIZE).toBe(BATCH_GET_KEYS);
    expect(MAX_HOST_IDS).toBe(BATCH_GET_KEYS);
    const ids = Array.from({ length: MAX_HOST_IDS }, (_, i) => String(i + 1)).join(',');
    expect(parseHostListQuery({ id: ids }).hostIds).toHaveLength(MAX_HOST_IDS);
  });

  it.each([
    [{ page: '0' }, 'page', /page: must be a positive integer/],
    [{ page: '-1' }, 'page', /page/],
    [{ page: 'x' }, 'page', /page/],
    [{ size: '0' }, 'size', /size: must be a positive integer/],
    [{ size: '101' }, 'size', /size must be at most 100/],
    [{ size: '1e2' }, 'size', /size/],
    [{ id: '' }, 'id', /id must be a positive 64-bit integer in decimal, got an empty value/],
    [{ id: '1,,2' }, 'id', /got an empty value/],
    [{ id: '1, 2' }, 'id', /got " 2"/],
    [{ id: '0' }, 'id', /id must be/],
    [{ id: 'abc' }, 'id', /got "abc"/],
    [{ id: '9223372036854775808' }, 'id', /id must be/],
    [
      { id: Array.from({ length: MAX_HOST_IDS + 1 }, (_, i) => String(i + 1)).join(',') },
      'id',
      /id may name at most 100 hosts/,
    ],
  ])('refuses %j naming %s', (parameters, target, message) => {
    let error: unknown;
    try {
      parseHostListQuery(parameters);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidArgument);
    expect((error as InvalidArgument).target).toBe(target);
    expect((error as InvalidArgument).message).toMatch(message);
  });
});
