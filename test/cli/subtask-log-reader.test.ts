import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/api-client.ts';
import { SubtaskLogReader } from '../../cli/follow.ts';

// The live-log `cursor` of the log endpoint is being built on another branch: this stand-in answers the
// log route as that API does (with a cursor) and as this one does (without), to check the reader's two ways.
let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
});

async function serveLogs(
  answer: (cursor: string | null) => object,
): Promise<{ client: ApiClient; asked: string[] }> {
  const asked: string[] = [];
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    asked.push(`${url.pathname}${url.search}`);
    response.setHeader('content-type', 'application/json');
    response.end(
      JSON.stringify({ successful: true, status: 200, data: answer(url.searchParams.get('cursor')) }),
    );
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { client: new ApiClient({ apiUrl: `http://127.0.0.1:${port}`, token: 't' }), asked };
}

describe('SubtaskLogReader', () => {
  it('with a cursor in the answer, asks only for the output after it and appends it', async () => {
    const chunks: Record<string, { log: string; cursor: string }> = {
      start: { log: 'line 1\n', cursor: 'c1' },
      c1: { log: 'line 2\n', cursor: 'c2' },
      c2: { log: '', cursor: 'c2' },
    };
    const { client, asked } = await serveLogs((cursor) => ({
      truncated: false,
      ...chunks[cursor ?? 'start'],
    }));
    const reader = new SubtaskLogReader(client);

    expect(await reader.log(5, 7)).toBe('line 1\n');
    expect(await reader.log(5, 7)).toBe('line 1\nline 2\n');
    expect(await reader.log(5, 7)).toBe('line 1\nline 2\n');
    expect(asked).toEqual([
      '/api/v2/tasks/instances/5/subtasks/7/log',
      '/api/v2/tasks/instances/5/subtasks/7/log?cursor=c1',
      '/api/v2/tasks/instances/5/subtasks/7/log?cursor=c2',
    ]);
  });

  it('without a cursor, reads the whole log again each time', async () => {
    let reads = 0;
    const { client, asked } = await serveLogs(() => ({ log: `read ${++reads}\n`, truncated: false }));
    const reader = new SubtaskLogReader(client);

    expect(await reader.log(5, 7)).toBe('read 1\n');
    expect(await reader.log(5, 7)).toBe('read 2\n');
    expect(asked).toEqual([
      '/api/v2/tasks/instances/5/subtasks/7/log',
      '/api/v2/tasks/instances/5/subtasks/7/log',
    ]);
  });
});
