/**
 * The API benchmark's load generator, run as its own process so that it never shares local mode's
 * event loop: autocannon with `amount` requests over `connections`, paths taken in turn from `paths`.
 * Prints one JSON line: each response's HTTP time, status and envelope fields.
 */
import autocannon from 'autocannon';

export interface LoadRequest {
  url: string;
  connections: number;
  amount: number;
  method: string;
  headers?: Record<string, string>;
  paths: string[];
}

export interface LoadResult {
  http: number[];
  duration: number[];
  statuses: [number, number][];
  taskIds: number[];
  seconds: number;
  errors: number;
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as LoadRequest;
  const http: number[] = [];
  const duration: number[] = [];
  const statuses = new Map<number, number>();
  const taskIds: number[] = [];
  let next = 0;
  const startedAt = performance.now();
  const result = await autocannon({
    url: request.url,
    connections: request.connections,
    amount: request.amount,
    timeout: 30,
    requests: [
      {
        method: request.method,
        ...(request.headers ? { headers: request.headers } : {}),
        // Called just before each request is written (after the previous response on the connection).
        setupRequest: (raw, context) => {
          context.startedAt = performance.now();
          return { ...raw, path: request.paths[next++ % request.paths.length]! };
        },
        onResponse: (status, body, context) => {
          http.push(performance.now() - (context.startedAt as number));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (!body.startsWith('{')) return;
          const envelope = JSON.parse(body) as { duration?: number; data?: { id?: number } };
          if (typeof envelope.duration === 'number') duration.push(envelope.duration);
          if (status === 200 && typeof envelope.data?.id === 'number') taskIds.push(envelope.data.id);
        },
      },
    ],
  });
  const output: LoadResult = {
    http,
    duration,
    statuses: [...statuses],
    taskIds,
    // autocannon's own duration is counted in whole sampling ticks; this is the run's real length.
    seconds: (performance.now() - startedAt) / 1000,
    errors: result.errors + result.timeouts,
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
