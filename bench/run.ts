/**
 * `npm run bench [-- part...]`: measures the product's speed, scale and cost, prints a table with
 * each figure's budget, and writes BENCHMARKS.md. Parts: api, cold-start, orchestration, fleet, cost, sweep, list, console.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from './context.ts';
import { BENCH_HOSTS, type BenchSystem, type FunctionRuntime, startBenchSystem } from './local-bench.ts';
import {
  consoleTable,
  PART_IDS,
  type PartId,
  type PartResult,
  saveResults,
  writeBenchmarks,
} from './report.ts';

// The SDK warns that its 2027 releases need Node 22; the benchmark output has no use for it.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning.name !== 'NodeVersionSupportWarning') console.warn(warning);
});

const PARTS: Record<PartId, () => Promise<{ run(context: BenchContext): Promise<PartResult> }>> = {
  'cold-start': () => import('./cold-start.ts'),
  api: () => import('./api-latency.ts'),
  orchestration: () => import('./orchestration.ts'),
  cost: () => import('./cost.ts'),
  fleet: () => import('./fleet.ts'),
  sweep: () => import('./sweep.ts'),
  list: () => import('./list.ts'),
  console: () => import('./console.ts'),
};
/**
 * Run order: cold start first, before local mode loads the machine, then the console's page loads (on a
 * small local system of its own); the fleet, then the sweep's 10,000 tasks, then the listing's 100,000
 * (written into local mode's own task table), last.
 */
const ORDER: readonly PartId[] = [
  'cold-start',
  'console',
  'api',
  'orchestration',
  'cost',
  'fleet',
  'sweep',
  'list',
];
const ALIASES: Record<string, PartId> = { cold: 'cold-start', orchestrate: 'orchestration' };
/**
 * Parts that count the handlers' SDK calls with a middleware on the handlers' own clients: they run
 * with the handlers in the benchmark's process (functionRuntime "in-process"), every other part with
 * local mode's function instances. A run with both kinds runs these in a second process (the
 * handlers' clients keep the endpoints of the first local system a process starts).
 */
const IN_PROCESS_PARTS: readonly PartId[] = ['cost', 'sweep', 'list'];
const RUNTIME_VARIABLE = 'OCP_BENCH_FUNCTION_RUNTIME';

function selectedParts(args: readonly string[]): PartId[] {
  if (args.length === 0) return [...ORDER];
  const chosen = args.map((arg) => {
    const id = ALIASES[arg] ?? arg;
    if (!(PART_IDS as readonly string[]).includes(id)) {
      throw new Error(`Unknown benchmark part "${arg}"; choose from ${PART_IDS.join(', ')}`);
    }
    return id as PartId;
  });
  return ORDER.filter((id) => chosen.includes(id));
}

const PREAMBLE = `
# Benchmarks

Speed, scale and cost of ocp-agent-restart, measured by \`npm run bench\` (all parts, a few minutes) or
\`npm run bench -- <part>\` (one or more of ${PART_IDS.map((id) => `\`${id}\``).join(', ')}). The command
prints the table below and rewrites this file; each part records the command that produced it, the
machine and the date. The benchmarks only measure: no test asserts on time.

Local mode runs every component on one machine: DynamoDB Local (Java), the local Step Functions, SSM
and EventBridge endpoints, the API and the demo hosts' agents and scripts share its cores. Figures from
a machine that other work is loading are slower; each part records the load average when it started.
`;

/** The sections after the parts': hand-written (the before/after of issues, what the benchmarks changed). */
const APPENDIX = `\n${readFileSync(join(__dirname, 'appendix.md'), 'utf8')}`;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const selected = selectedParts(args);
  const inProcess = selected.filter((id) => IN_PROCESS_PARTS.includes(id));
  const runtime: FunctionRuntime =
    process.env[RUNTIME_VARIABLE] === 'in-process' || inProcess.length === selected.length
      ? 'in-process'
      : 'instances';
  const parts = runtime === 'in-process' ? selected : selected.filter((id) => !inProcess.includes(id));
  const later = runtime === 'in-process' ? [] : inProcess;
  const command =
    process.env.OCP_BENCH_COMMAND ?? `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  let shared: Promise<BenchSystem> | undefined;
  const context: BenchContext = {
    command,
    localSystem: () => {
      if (!shared) {
        console.log(`Starting local mode with ${BENCH_HOSTS} demo hosts (functions: ${runtime})…`);
        shared = startBenchSystem(runtime);
      }
      return shared;
    },
    log: (line) => console.log(line),
  };
  const stopShared = async () => {
    const system = shared;
    shared = undefined;
    if (system) await (await system).stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.log('\nStopping local mode…');
      void stopShared().finally(() => process.exit(130));
    });
  }

  const results: PartResult[] = [];
  const failed: PartId[] = [];
  try {
    for (const id of parts) {
      console.log(`\n== ${id}`);
      try {
        const part = await PARTS[id]();
        results.push(await part.run(context));
      } catch (error) {
        // The other parts still run and report; the command fails at the end.
        console.error(`Benchmark part ${id} failed:`, error);
        failed.push(id);
      }
    }
  } finally {
    await stopShared();
  }
  const latest = saveResults(results);
  writeBenchmarks(latest, PREAMBLE, APPENDIX);
  // In the project's format (Biome aligns Markdown tables), so that `biome check .` stays clean.
  const repo = join(__dirname, '..');
  execFileSync(
    join(repo, 'node_modules', '.bin', 'biome'),
    ['format', '--write', 'BENCHMARKS.md', 'bench/results.json'],
    {
      cwd: repo,
      stdio: 'ignore',
    },
  );
  console.log(
    `\n${consoleTable(results)}\n\nBENCHMARKS.md updated (${results.map((r) => r.id).join(', ')}).`,
  );
  if (failed.length > 0) {
    console.error(`Benchmark parts that failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
  if (later.length > 0) {
    console.log(
      `\nThe parts that count the handlers' SDK calls (${later.join(', ')}), in a process of their own…`,
    );
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, ...later], {
      stdio: 'inherit',
      env: { ...process.env, [RUNTIME_VARIABLE]: 'in-process', OCP_BENCH_COMMAND: command },
    });
    if (child.status !== 0) process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
