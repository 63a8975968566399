import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { BACKGROUND_NICE } from '../local/cpu-priority.ts';
import type { BenchContext } from './context.ts';
import { type CpuUse, cpuSnapshot, cpuUse } from './cpu-accounting.ts';
import type { LoadRequest, LoadResult } from './load-client.ts';
import { BENCH_HOSTS, type BenchSystem } from './local-bench.ts';
import type { Figure, PartResult } from './report.ts';
import type { BaselineRequest, BaselineResult } from './sdk-baseline-client.ts';
import { machineInfo, percentile, round } from './stats.ts';

const CONCURRENCY = [1, 32] as const;
/** Rounds of BENCH_HOSTS restarts (one per host) per concurrency level. */
const ROUNDS: Record<(typeof CONCURRENCY)[number], number> = { 1: 1, 32: 1 };
/** Restarts of the round whose commands are held back (hosts offline), per level. */
const ISOLATED_HOSTS = 100;
const PING_REQUESTS = 2_000;
const WARM_UP_HOSTS = 50;
const execFileAsync = promisify(execFile);

interface Sample {
  http: number[];
  duration: number[];
  statuses: Map<number, number>;
  taskIds: number[];
  seconds: number;
  /** Where the CPU went while the requests were answered (Linux; of the first round when merged). */
  cpu?: CpuUse;
}

/** One autocannon run in a separate process (bench/load-client.ts), so the client never shares local mode's event loop. */
async function load(request: LoadRequest): Promise<Sample> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'load-client.ts'), JSON.stringify(request)],
    { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  const result = JSON.parse(stdout) as LoadResult;
  if (result.errors > 0)
    throw new Error(`autocannon saw ${result.errors} errors or timeouts on ${request.url}`);
  return { ...result, statuses: new Map(result.statuses) };
}

/** `load`, with the CPU that the api instances, local mode's main thread and DynamoDB Local used meanwhile. */
async function accountedLoad(bench: BenchSystem, request: LoadRequest): Promise<Sample> {
  const apiThreads = () => bench.system.functionStats().api?.threadIds ?? [];
  const before = cpuSnapshot(apiThreads());
  const sample = await load(request);
  const after = cpuSnapshot(apiThreads());
  return before && after ? { ...sample, cpu: cpuUse(before, after) } : sample;
}

/** BENCH_HOSTS restarts, one per host in round-robin, then waits until every task has ended. */
async function restartRound(bench: BenchSystem, connections: number, hosts = BENCH_HOSTS): Promise<Sample> {
  const sample = await accountedLoad(bench, {
    url: bench.system.apiUrl,
    connections,
    amount: hosts,
    method: 'POST',
    headers: { authorization: `Bearer ${bench.token}` },
    paths: Array.from({ length: hosts }, (_, i) => `/compute/hosts/${i + 1}/agent/restart`),
  });
  await bench.waitForEnd(sample.taskIds);
  return sample;
}

/**
 * The API alone: the hosts are marked offline, so each restart's first command waits undelivered and no
 * script or callback runs while the requests are answered; then the hosts come back and the tasks finish.
 */
async function isolatedRound(bench: BenchSystem, connections: number): Promise<Sample> {
  const hosts = bench.system.hosts.slice(0, ISOLATED_HOSTS);
  for (const host of hosts) bench.system.offlineInstances.add(host.instanceId);
  let sample: Sample;
  try {
    sample = await accountedLoad(bench, {
      url: bench.system.apiUrl,
      connections,
      amount: hosts.length,
      method: 'POST',
      headers: { authorization: `Bearer ${bench.token}` },
      paths: hosts.map((host) => `/compute/hosts/${host.hostId}/agent/restart`),
    });
  } finally {
    for (const host of hosts) bench.system.offlineInstances.delete(host.instanceId);
  }
  await bench.waitForEnd(sample.taskIds);
  return sample;
}

/**
 * The floor: the same restarts' DynamoDB and Step Functions calls through the product's adapters over
 * bare SDK clients (bench/sdk-baseline-client.ts, a process of its own), from as many callers. Under
 * the API alone: its hosts offline, as in the API-alone round. With workflows: a round's hosts online,
 * so the calls' own executions run behind them as the measured round's do.
 */
async function baselineRound(
  bench: BenchSystem,
  callers: number,
  withWorkflows = false,
): Promise<BaselineResult> {
  const hosts = bench.system.hosts.slice(0, withWorkflows ? BENCH_HOSTS : ISOLATED_HOSTS);
  const heldBack = withWorkflows ? [] : hosts;
  for (const host of heldBack) bench.system.offlineInstances.add(host.instanceId);
  let result: BaselineResult;
  try {
    const request: BaselineRequest = { hostIds: hosts.map((host) => host.hostId), callers };
    const { stdout } = await execFileAsync(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'sdk-baseline-client.ts'), JSON.stringify(request)],
      { maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
    );
    result = JSON.parse(stdout) as BaselineResult;
  } finally {
    for (const host of heldBack) bench.system.offlineInstances.delete(host.instanceId);
  }
  await bench.waitForEnd(result.taskIds);
  return result;
}

/** Each floor restart's time less its StartExecution: its DynamoDB calls. */
const dynamoMs = (floor: BaselineResult) =>
  floor.ms.map((ms, index) => ms - (floor.startExecutionMs[index] ?? 0));

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
    ...(samples[0]?.cpu ? { cpu: samples[0].cpu } : {}),
  };
}

/** The CPU figures of one round: per restart for the api's instances, in seconds for the shared parts. */
function cpuFigures(cpu: CpuUse | undefined, restarts: number, label: string): Figure[] {
  if (!cpu) return [];
  return [
    {
      name: `api instances' CPU per restart ${label}`,
      value: round(cpu.api.runMs / restarts, 1),
      unit: 'ms',
    },
    {
      name: `api instances' wait for a core per restart ${label}`,
      value: round(cpu.api.waitMs / restarts, 1),
      unit: 'ms',
    },
    { name: `machine's cores busy ${label}`, value: round(cpu.machineBusy), unit: '%' },
  ];
}

function cpuRow(cpu: CpuUse | undefined, restarts: number, label: string): string {
  if (!cpu) return `| ${label} | ${restarts} | no /proc schedstat here | | | |`;
  const s = (ms: number) => round(ms / 1000, 2);
  return `| ${label} | ${restarts} | ${round(cpu.machineBusy)} % | ${round(cpu.api.runMs / restarts, 1)} / ${round(cpu.api.waitMs / restarts, 1)} | ${s(cpu.mainThread.runMs)} / ${s(cpu.mainThread.waitMs)} | ${s(cpu.dynamoDbLocal.runMs)} / ${s(cpu.dynamoDbLocal.waitMs)} |`;
}

/** Local mode's function instances after the part: cold starts and instances (none before local/lambda-runtime). */
function functionRows(bench: BenchSystem): string[] {
  const stats = bench.system.functionStats();
  if (Object.keys(stats).length === 0) return ['Functions ran in local mode’s own process (no instances).'];
  const rows = Object.entries(stats)
    .filter(([, pool]) => pool.coldStarts > 0)
    .map(
      ([id, pool]) =>
        `| ${id} | ${pool.invocations} | ${pool.coldStarts} | ${pool.peakInstances} | ${round(percentile(pool.coldStartMs, 50))} / ${round(Math.max(...pool.coldStartMs))} |`,
    );
  return [
    `Function instances (local/lambda-runtime) while the part ran:

| function | invocations | cold starts | most instances at once | cold start p50 / max (ms) |
| --- | --- | --- | --- | --- |
${rows.join('\n')}`,
  ];
}

/** The most api instances that ran at once so far, when local mode runs functions in instances. */
function apiPeakInstances(bench: BenchSystem): number | undefined {
  return bench.system.functionStats().api?.peakInstances;
}

/** How the api's requests were served: by how many instances, or on local mode's own event loop. */
function apiInstanceCount(bench: BenchSystem): string {
  const api = bench.system.functionStats().api;
  return api
    ? `at most ${api.peakInstances} api instances (local mode's limit)`
    : 'one Node event loop (every handler in one process)';
}

export async function run(context: BenchContext): Promise<PartResult> {
  const started = Date.now();
  const machine = machineInfo();
  const bench = await context.localSystem();
  const pingRequest = (connections: number, amount: number): LoadRequest => ({
    url: bench.system.apiUrl,
    connections,
    amount,
    method: 'GET',
    paths: ['/ping'],
  });

  context.log(`api: warm-up, ${WARM_UP_HOSTS} restarts`);
  await restartRound(bench, 8, WARM_UP_HOSTS);
  await load(pingRequest(8, 500));

  const figures: Figure[] = [];
  const rows: string[] = [];
  const isolatedRows: string[] = [];
  const findings: string[] = [];
  const baselineRows: string[] = [];
  const floorRows: string[] = [];
  const floorSplitRows: string[] = [];
  const cpuRows: string[] = [];
  for (const connections of CONCURRENCY) {
    context.log(`api: ${PING_REQUESTS} pings at ${connections} concurrent`);
    const ping = await load(pingRequest(connections, PING_REQUESTS));
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
      { name: `restarts answered 200 ${at}`, value: round((100 * ok) / total), unit: '%' },
    );
    context.log(`api: ${ISOLATED_HOSTS} restarts at ${connections} concurrent with their commands held back`);
    const isolated = await isolatedRound(bench, connections);
    const isolatedRate = isolated.http.length / isolated.seconds;
    figures.push(
      ...cpuFigures(isolated.cpu, isolated.http.length, `${at}, API alone`),
      ...cpuFigures(restart.cpu, total, `${at}, with workflows`),
    );
    cpuRows.push(
      cpuRow(isolated.cpu, isolated.http.length, `${at}, API alone`),
      cpuRow(restart.cpu, total, `${at}, with workflows`),
    );
    figures.push(
      { name: `restart HTTP p50 ${at}, API alone`, value: round(percentile(isolated.http, 50)), unit: 'ms' },
      { name: `restart HTTP p99 ${at}, API alone`, value: round(percentile(isolated.http, 99)), unit: 'ms' },
      {
        name: `restart (API alone) ÷ ping, HTTP p50 ${at}`,
        value: round(percentile(isolated.http, 50) / pingP50),
        unit: '×',
      },
      {
        name: `restart envelope duration p50 ${at}, API alone`,
        value: percentile(isolated.duration, 50),
        unit: 'ms',
      },
      {
        name: `restart envelope duration p99 ${at}, API alone`,
        value: percentile(isolated.duration, 99),
        unit: 'ms',
      },
    );
    // The floor's callers: as many requests as reach DynamoDB at once through the api, so one per
    // api instance in use (local mode serves 32 clients with at most a few instances, the rest wait
    // outside the envelope); from 32 callers DynamoDB Local would meet 32 at a time, a floor above the API.
    const callers = Math.min(connections, apiPeakInstances(bench) ?? connections);
    context.log(`api: ${ISOLATED_HOSTS} restarts' SDK calls alone from ${callers} callers (the floor)`);
    const baseline = await baselineRound(bench, callers);
    const baseP50 = percentile(baseline.ms, 50);
    const baseP99 = percentile(baseline.ms, 99);
    const aloneP50 = percentile(isolated.duration, 50);
    const aloneP99 = percentile(isolated.duration, 99);
    context.log(`api: ${BENCH_HOSTS} restarts' SDK calls from ${callers} callers, their workflows running`);
    const busyBaseline = await baselineRound(bench, callers, true);
    const busyP50 = percentile(busyBaseline.ms, 50);
    const busyP99 = percentile(busyBaseline.ms, 99);
    floorRows.push(
      `| ${connections} | ${callers} | ${round(baseP50)} / ${round(baseP99)} | ${round(busyP50)} / ${round(busyP99)} | ${round(busyP50 / baseP50, 2)}× / ${round(busyP99 / baseP99, 2)}× | ${round(durationP50 / aloneP50, 2)}× / ${round(durationP99 / aloneP99, 2)}× | ${round(baseline.cpuMsPerRestart, 1)} / ${round(busyBaseline.cpuMsPerRestart, 1)} |`,
    );
    const sfnAlone = percentile(baseline.startExecutionMs, 50);
    const sfnBusy = percentile(busyBaseline.startExecutionMs, 50);
    const dynamoAlone = percentile(dynamoMs(baseline), 50);
    const dynamoBusy = percentile(dynamoMs(busyBaseline), 50);
    floorSplitRows.push(
      `| ${connections} | ${round(dynamoAlone)} / ${round(dynamoBusy)} (${round(dynamoBusy / dynamoAlone, 2)}×) | ${round(sfnAlone)} / ${round(sfnBusy)} (${round(sfnBusy / sfnAlone, 2)}×) |`,
    );
    figures.push(
      {
        name: `SDK floor's DynamoDB calls p50 ${at}, with workflows ÷ alone`,
        value: round(dynamoBusy / dynamoAlone, 2),
        unit: '×',
      },
      {
        name: `SDK floor's StartExecution p50 ${at}, with workflows ÷ alone`,
        value: round(sfnBusy / sfnAlone, 2),
        unit: '×',
      },
    );
    figures.push(
      { name: `restart SDK calls p50 ${at}, with workflows`, value: round(busyP50), unit: 'ms' },
      { name: `restart SDK calls p99 ${at}, with workflows`, value: round(busyP99), unit: 'ms' },
      { name: `SDK calls p50 ${at}, with workflows ÷ alone`, value: round(busyP50 / baseP50, 2), unit: '×' },
      { name: `SDK calls p99 ${at}, with workflows ÷ alone`, value: round(busyP99 / baseP99, 2), unit: '×' },
      {
        name: `SDK floor's CPU per restart ${at}, alone`,
        value: round(baseline.cpuMsPerRestart, 1),
        unit: 'ms',
      },
      {
        name: `SDK floor's CPU per restart ${at}, with workflows`,
        value: round(busyBaseline.cpuMsPerRestart, 1),
        unit: 'ms',
      },
      { name: `restart SDK calls alone p50 ${at} (baseline)`, value: round(baseP50), unit: 'ms' },
      { name: `restart SDK calls alone p99 ${at} (baseline)`, value: round(baseP99), unit: 'ms' },
      {
        name: `handler's own share of the API alone's envelope duration p99 ${at}`,
        value: round((100 * Math.max(0, aloneP99 - baseP99)) / aloneP99),
        unit: '%',
      },
      {
        name: `envelope duration p99 ${at}, API alone ÷ SDK baseline p99`,
        value: round(aloneP99 / baseP99, 2),
        unit: '×',
        ...(strict ? { budget: { max: 1.3 } } : {}),
      },
      {
        name: `envelope duration p50 ${at}, with workflows ÷ API alone`,
        value: round(durationP50 / aloneP50, 2),
        unit: '×',
        budget: { max: 1.5 },
      },
      {
        name: `envelope duration p99 ${at}, with workflows ÷ API alone`,
        value: round(durationP99 / aloneP99, 2),
        unit: '×',
        budget: { max: 1.5 },
      },
    );
    baselineRows.push(
      `| ${connections} | ${callers} | ${round(baseP50)} / ${round(baseP99)} | ${aloneP50} / ${aloneP99} | ${round(aloneP50 - baseP50)} / ${round(aloneP99 - baseP99)} |`,
    );
    isolatedRows.push(
      `| ${connections} | ${isolated.http.length} | ${isolated.statuses.get(200) ?? 0} | ${round(isolatedRate)} | ${round(percentile(isolated.http, 50))} / ${round(percentile(isolated.http, 99))} | ${percentile(isolated.duration, 50)} / ${percentile(isolated.duration, 99)} | ${round((1000 * connections) / isolatedRate)} |`,
    );
    if (strict && durationP50 > 15) {
      findings.push(
        `**Why the ${connections}-concurrent budget fails, and what is proposed.** The API alone answers ${round(isolatedRate)} restarts/s at ${connections} concurrent. With ${connections} requests always in flight, Little's law sets the mean time a request spends in the system at ${connections} ÷ ${round(isolatedRate)}/s = ${round((1000 * connections) / isolatedRate)} ms, whatever the handler does: local mode serves them with ${apiInstanceCount(bench)} on ${machine.cores} cores shared with DynamoDB Local, the local endpoints and the workflows, so a request's HTTP time beyond its envelope \`duration\` is mostly the wait for a free instance. On AWS each concurrent request has a Lambda execution environment of its own, so the duration at ${connections} concurrent is the duration at 1: ${figures.find((f) => f.name === 'restart envelope duration p50 @1, API alone')?.value ?? 'n/a'} ms p50 here (API alone, against DynamoDB Local on a shared machine). Proposed for local mode: the envelope-duration budgets judged at 1 concurrent with the API alone, and at ${connections} concurrent HTTP p99 ≤ twice the Little's-law floor, ${Math.ceil((2 * 1000 * connections) / isolatedRate / 100) * 100} ms on this machine.`,
      );
    }
    rows.push(
      `| ${connections} | ${total} | ${ok} | ${total - ok} | ${round(total / restart.seconds)} | ${round(httpP50)} / ${round(httpP99)} | ${durationP50} / ${durationP99} | ${round(pingP50, 2)} / ${round(percentile(ping.http, 99), 2)} | ${round(PING_REQUESTS / ping.seconds)} |`,
    );
  }

  context.log(`api: ${BENCH_HOSTS} restarts at once (one per host, ${BENCH_HOSTS} connections)`);
  const burst = await load({
    url: bench.system.apiUrl,
    connections: BENCH_HOSTS,
    amount: BENCH_HOSTS,
    method: 'POST',
    headers: { authorization: `Bearer ${bench.token}` },
    paths: Array.from({ length: BENCH_HOSTS }, (_, i) => `/compute/hosts/${i + 1}/agent/restart`),
  });
  const answered = performance.now();
  await bench.waitForEnd(burst.taskIds);
  // From the first request (the load client's clock) to the last task's end (this process's).
  const burstWall = burst.seconds + (performance.now() - answered) / 1000;
  figures.push(
    {
      name: `${BENCH_HOSTS} restarts at once: wall time to every task ended`,
      value: round(burstWall, 1),
      unit: 's',
    },
    { name: `${BENCH_HOSTS} restarts at once: last API answer`, value: round(burst.seconds, 1), unit: 's' },
    {
      name: `${BENCH_HOSTS} restarts at once: answered 200`,
      value: burst.statuses.get(200) ?? 0,
      unit: `of ${BENCH_HOSTS}`,
    },
  );
  const apiInstances = bench.system.functionStats().api;
  if (apiInstances && apiInstances.coldStarts > 0) {
    figures.push(
      { name: 'api cold starts in local mode (instances started)', value: apiInstances.coldStarts, unit: '' },
      {
        name: 'api cold start in local mode p50 (instance start to module loaded)',
        value: round(percentile(apiInstances.coldStartMs, 50)),
        unit: 'ms',
      },
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
  complete response (closed loop: each connection sends its next request when the previous one is
  answered). autocannon runs in a process of its own (bench/load-client.ts), so the client never
  shares local mode's event loop.
- **Envelope \`duration\`**: the handler's own figure in the OCP envelope (from the handler's entry to the
  envelope being built): the product's cost without the gateway and the JWT check.
- **API alone**: a round of ${ISOLATED_HOSTS} restarts per level with those hosts marked offline in the local
  SSM, so each workflow stops at its first command (undelivered) and no script, callback or later state
  runs while the requests are answered; then the hosts come back online and the tasks finish. This is
  the product's own request path (JWT check, handler, DynamoDB, StartExecution and the first
  run-subtask) without the load of the workflows that share local mode's process and cores.
- **SDK baseline** (the floor): right after each API-alone round, the same ${ISOLATED_HOSTS} hosts' restarts
  made by bench/sdk-baseline-client.ts in a process of its own: the product's store and workflow adapters
  over bare SDK clients (host lookup, ids, transaction, StartExecution — the calls the api makes),
  from as many callers as requests reached DynamoDB at once through the api: the round's connections,
  or fewer when local mode served them with fewer api instances (at most one request per instance is
  inside its envelope; the others wait outside it). No HTTP, JWT, handler or function instance.
  Its time is what DynamoDB Local and the local Step Functions take; the API alone's envelope
  \`duration\` over it is the handler's own code and its instance's waiting (reported as the
  handler's share).
- **The floor with workflows**: then the same SDK calls for a whole round of ${BENCH_HOSTS} hosts, online,
  from the same callers, so their executions run behind them as the measured round's workflows run
  behind the API: how much slower DynamoDB Local and the local Step Functions answer those calls
  with workflows running, with no function instance of the API in the way. The API's own ratio can
  hardly be lower than this one. The floor's time is split by service: each StartExecution, timed
  around the client's workflow adapter, and the rest of the restart (DynamoDB Local's calls).
- **Ratios**: with workflows ÷ API alone (envelope \`duration\`, budget ≤ 1.5×) and API alone ÷ SDK baseline
  (p99 at 32, budget ≤ 1.3×).
- **Restarts at once**: last, ${BENCH_HOSTS} restarts in one burst (${BENCH_HOSTS} connections, one host
  each): the time to the last API answer, and to every task's end (the workflows run meanwhile).
- **Ping**: \`GET /ping\` (no auth, no handler) on the same server in the same run:
  ${PING_REQUESTS} requests per level. The ratio restart/ping shows the product's own cost over the plumbing.
- The restarted workflows run while the next requests arrive: their scripts, Step Functions, SSM and
  DynamoDB Local share the machine's ${machine.cores} cores with the API, which a Lambda function on
  AWS would not. Local mode runs the instances of the functions no HTTP request waits for, and the
  demo hosts' scripts, at nice ${BACKGROUND_NICE} (local/cpu-priority.ts): they get the CPU the API,
  the local endpoints and DynamoDB Local leave free.
`,
    details: [
      `| concurrency | restarts | 200 | other | restarts/s | restart HTTP p50 / p99 (ms) | envelope duration p50 / p99 (ms) | ping HTTP p50 / p99 (ms) | pings/s |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}`,
      `API alone (commands held back):

| concurrency | restarts | 200 | restarts/s | HTTP p50 / p99 (ms) | envelope duration p50 / p99 (ms) | Little's law: concurrency ÷ rate (ms) |
| --- | --- | --- | --- | --- | --- | --- |
${isolatedRows.join('\n')}`,
      `The floor (SDK calls alone, bench/sdk-baseline-client.ts) against the API alone:

| clients | floor's callers (api instances in use) | SDK calls alone p50 / p99 (ms) | envelope duration p50 / p99, API alone (ms) | the handler's own time over the floor, p50 / p99 (ms) |
| --- | --- | --- | --- | --- |
${baselineRows.join('\n')}`,
      `The floor with workflows running behind it (the same bare SDK calls, their hosts online) against the API's own slowdown:

| clients | floor's callers | SDK calls alone p50 / p99 (ms) | SDK calls with workflows p50 / p99 (ms) | SDK calls: with workflows ÷ alone, p50 / p99 | API envelope duration: with workflows ÷ alone, p50 / p99 | the floor's CPU per restart, alone / with workflows (ms, its whole process) |
| --- | --- | --- | --- | --- | --- | --- |
${floorRows.join('\n')}`,
      `The floor's time by service, p50 alone / with workflows (ms): DynamoDB Local (the host lookup and the transaction; the restart's time less its StartExecution) and the local Step Functions (StartExecution, answered on local mode's main thread):

| clients | DynamoDB calls | StartExecution |
| --- | --- | --- |
${floorSplitRows.join('\n')}`,
      `Where the CPU went while the requests were answered (Linux scheduler statistics, /proc/…/schedstat:
time a thread ran, and time it was ready but waited for a core; bench/cpu-accounting.ts):

| round | restarts | machine's cores busy | api instances: CPU / wait for a core per restart (ms) | local mode's main thread: CPU / wait (s) | DynamoDB Local: CPU / wait (s) |
| --- | --- | --- | --- | --- | --- |
${cpuRows.join('\n')}`,
      ...functionRows(bench),
      ...findings,
    ],
  };
}
