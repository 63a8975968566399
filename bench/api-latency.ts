import autocannon from 'autocannon';
import type { BenchContext } from './context.ts';
import { BENCH_HOSTS, type BenchSystem } from './local-bench.ts';
import type { Figure, PartResult } from './report.ts';
import { machineInfo, percentile, round } from './stats.ts';

const CONCURRENCY = [1, 32] as const;
/** Rounds of BENCH_HOSTS restarts (one per host) per concurrency level. */
const ROUNDS: Record<(typeof CONCURRENCY)[number], number> = { 1: 1, 32: 2 };
const PING_REQUESTS = 2_000;
const WARM_UP_HOSTS = 50;

interface Sample {
  http: number[];
  duration: number[];
  statuses: Map<number, number>;
  taskIds: number[];
  seconds: number;
}

/**
 * One autocannon run of `amount` requests over `connections`; the HTTP time of each request is taken
 * from its setup to its response (per connection, so it is the time of that request alone).
 */
async function load(
  url: string,
  connections: number,
  amount: number,
  request: { method: string; headers?: Record<string, string>; path: () => string },
): Promise<Sample> {
  const sample: Sample = { http: [], duration: [], statuses: new Map(), taskIds: [], seconds: 0 };
  const result = await autocannon({
    url,
    connections,
    amount,
    timeout: 30,
    requests: [
      {
        method: request.method,
        ...(request.headers ? { headers: request.headers } : {}),
        setupRequest: (raw, context) => {
          context.startedAt = performance.now();
          return { ...raw, path: request.path() };
        },
        onResponse: (status, body, context) => {
          sample.http.push(performance.now() - (context.startedAt as number));
          sample.statuses.set(status, (sample.statuses.get(status) ?? 0) + 1);
          if (!body.startsWith('{')) return;
          const envelope = JSON.parse(body) as { duration?: number; data?: { id?: number } };
          if (typeof envelope.duration === 'number') sample.duration.push(envelope.duration);
          if (status === 200 && typeof envelope.data?.id === 'number') sample.taskIds.push(envelope.data.id);
        },
      },
    ],
  });
  sample.seconds = result.duration;
  if (result.errors > 0 || result.timeouts > 0) {
    throw new Error(`autocannon saw ${result.errors} errors and ${result.timeouts} timeouts on ${url}`);
  }
  return sample;
}

/** BENCH_HOSTS restarts, one per host in round-robin, then waits until every task has ended. */
async function restartRound(bench: BenchSystem, connections: number, hosts = BENCH_HOSTS): Promise<Sample> {
  let next = 0;
  const sample = await load(bench.system.apiUrl, connections, hosts, {
    method: 'POST',
    headers: { authorization: `Bearer ${bench.token}` },
    path: () => `/compute/hosts/${(next++ % hosts) + 1}/agent/restart`,
  });
  await bench.waitForEnd(sample.taskIds);
  return sample;
}

function merge(samples: Sample[]): Sample {
  const statuses = new Map<number, number>();
  for (const sample of samples)
    for (const [status, count] of sample.statuses) statuses.set(status, (statuses.get(status) ?? 0) + count);
  return {
    http: samples.flatMap((s) => s.http),
    duration: samples.flatMap((s) => s.duration),
    statuses,
    taskIds: samples.flatMap((s) => s.taskIds),
    seconds: samples.reduce((total, s) => total + s.seconds, 0),
  };
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const pingUrl = `${bench.system.apiUrl}/ping`;

  context.log(`api: warm-up, ${WARM_UP_HOSTS} restarts`);
  await restartRound(bench, 8, WARM_UP_HOSTS);
  await load(pingUrl, 8, 500, { method: 'GET', path: () => '/ping' });

  const figures: Figure[] = [];
  const rows: string[] = [];
  for (const connections of CONCURRENCY) {
    context.log(`api: ${PING_REQUESTS} pings at ${connections} concurrent`);
    const ping = await load(pingUrl, connections, PING_REQUESTS, { method: 'GET', path: () => '/ping' });
    const rounds: Sample[] = [];
    for (let round = 0; round < ROUNDS[connections]; round++) {
      context.log(`api: round ${round + 1} of ${BENCH_HOSTS} restarts at ${connections} concurrent`);
      rounds.push(await restartRound(bench, connections));
    }
    const restart = merge(rounds);
    const ok = restart.statuses.get(200) ?? 0;
    const total = restart.http.length;
    const at = `@${connections}`;
    const pingP50 = percentile(ping.http, 50);
    const httpP50 = percentile(restart.http, 50);
    const httpP99 = percentile(restart.http, 99);
    const durationP50 = percentile(restart.duration, 50);
    const durationP99 = percentile(restart.duration, 99);
    const strict = connections === 32;
    figures.push(
      {
        name: `restart HTTP p50 ${at}`,
        value: round(httpP50),
        unit: 'ms',
      },
      { name: `restart HTTP p99 ${at}`, value: round(httpP99), unit: 'ms', budget: { max: 100 } },
      {
        name: `restart envelope duration p50 ${at}`,
        value: durationP50,
        unit: 'ms',
        ...(strict ? { budget: { max: 15 } } : {}),
      },
      {
        name: `restart envelope duration p99 ${at}`,
        value: durationP99,
        unit: 'ms',
        ...(strict ? { budget: { max: 50 } } : {}),
      },
      { name: `ping HTTP p50 ${at}`, value: round(pingP50, 2), unit: 'ms' },
      { name: `ping HTTP p99 ${at}`, value: round(percentile(ping.http, 99), 2), unit: 'ms' },
      { name: `restart / ping HTTP p50 ${at}`, value: round(httpP50 / pingP50), unit: '×' },
      { name: `restarts answered 200 ${at}`, value: round((100 * ok) / total), unit: '%' },
    );
    rows.push(
      `| ${connections} | ${total} | ${ok} | ${total - ok} | ${round(total / restart.seconds)} | ${round(httpP50)} / ${round(httpP99)} | ${durationP50} / ${durationP99} | ${round(pingP50, 2)} / ${round(percentile(ping.http, 99), 2)} | ${round(PING_REQUESTS / ping.seconds)} |`,
    );
  }

  return {
    id: 'api',
    title: 'API answer time (local mode over HTTP)',
    command: context.command,
    machine,
    seconds: (Date.now() - started) / 1000,
    figures,
    method: `
Local mode (\`startLocalSystem({ demoHosts: ${BENCH_HOSTS}, demoMode: 'fast' })\`, DynamoDB Local in memory) is
loaded with [autocannon](https://github.com/mcollina/autocannon) over HTTP on 127.0.0.1, with a real
JWT from local mode's token helper. **Every request targets a free host:** a round is ${BENCH_HOSTS}
\`POST /compute/hosts/{id}/agent/restart\` requests, host ids 1..${BENCH_HOSTS} in round-robin, so no host
is asked twice in a round; between rounds the benchmark waits until every task of the round has ended
(seen on the task table's stream), so every host lock is free again. Rounds per level:
${CONCURRENCY.map((c) => `${ROUNDS[c]} at ${c} concurrent`).join(', ')}, after an uncounted warm-up of
${WARM_UP_HOSTS} restarts. A non-200 answer would be counted and reported (the "answered 200" share);
none is expected.

- **HTTP time**: measured per request by the client, from autocannon building the request to the
  complete response (closed loop: each connection sends its next request when the previous one is answered).
- **Envelope \`duration\`**: the handler's own figure in the OCP envelope (from the handler's entry to the
  envelope being built): the product's cost without the gateway and the JWT check.
- **Ping**: \`GET /ping\` (no auth, no handler) on the same server in the same run:
  ${PING_REQUESTS} requests per level. The ratio restart/ping shows the product's own cost over the plumbing.
- The restarted workflows run while the next requests arrive: their scripts, Step Functions, SSM and
  DynamoDB Local share the machine's ${machine.cores} cores with the API, which a Lambda function on
  AWS would not.
`,
    details: [
      `| concurrency | restarts | 200 | other | restarts/s | restart HTTP p50 / p99 (ms) | envelope duration p50 / p99 (ms) | ping HTTP p50 / p99 (ms) | pings/s |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`,
    ],
  };
}
