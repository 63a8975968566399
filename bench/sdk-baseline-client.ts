/**
 * The API benchmark's floor, run as its own process (as the load client is): the DynamoDB and Step
 * Functions calls of a restart request, made through the product's store and workflow adapters over
 * bare SDK clients, from `callers` concurrent callers, one host each in turn; no HTTP, JWT, handler,
 * envelope or function instance. Reads the endpoints and table names from the environment local mode
 * set. Prints one JSON line: each restart's time (ms) and the task ids it created.
 */
import { StepFunctionsWorkflow } from '../functions/aws/step-functions-workflow.ts';
import { hostTableName, stateMachineArn, taskTableName } from '../functions/runtime-config.ts';
import { HostRegistry } from '../functions/store/host-registry.ts';
import { TaskStore } from '../functions/store/task-store.ts';
import { type RestartDependencies, startRestartTask } from '../functions/use-cases/start-restart-task.ts';

const WARM_UP_PASSES = 3;

export interface BaselineRequest {
  hostIds: number[];
  callers: number;
}

export interface BaselineResult {
  ms: number[];
  taskIds: number[];
  seconds: number;
  /** CPU this process used per restart while measured (user + system, all its threads), ms. */
  cpuMsPerRestart: number;
  /** Each restart's StartExecution call (the local Step Functions), ms, in `ms`'s order; the rest of its time is DynamoDB's. */
  startExecutionMs: number[];
}

/** The workflow adapter, timing each StartExecution by the task it starts. */
class TimedWorkflow extends StepFunctionsWorkflow {
  readonly msByTask = new Map<number, number>();
  override async startExecution(...args: Parameters<StepFunctionsWorkflow['startExecution']>) {
    const started = performance.now();
    try {
      return await super.startExecution(...args);
    } finally {
      const input = args[2];
      if ('taskId' in input) this.msByTask.set(input.taskId, performance.now() - started);
    }
  }
}

/** The api's own way to its ids, where it has one (blocks per instance), else the counter per request. */
async function taskIdsOf(tasks: TaskStore): Promise<Pick<RestartDependencies, 'taskIds'>> {
  try {
    const [{ IdBlockAllocator }, { TASKS_PER_ID_BLOCK }, { IDS_PER_TASK }] = await Promise.all([
      import('../functions/store/id-block-allocator.ts'),
      import('../functions/core/id-blocks.ts'),
      import('../functions/core/subtasks.ts'),
    ]);
    return { taskIds: new IdBlockAllocator(tasks, IDS_PER_TASK * TASKS_PER_ID_BLOCK) };
  } catch {
    return {};
  }
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as BaselineRequest;
  const tasks = new TaskStore(taskTableName());
  const workflow = new TimedWorkflow();
  const deps: RestartDependencies = {
    tasks,
    ...(await taskIdsOf(tasks)),
    hosts: new HostRegistry(hostTableName()),
    workflow,
    stateMachineArn: stateMachineArn(),
  };
  // Warm-up, uncounted (local mode's api instances are warm when measured): the same clients'
  // connections opened and their code paths compiled by read-only calls, WARM_UP_PASSES per host.
  const warmUp = Array.from({ length: WARM_UP_PASSES }, () => request.hostIds).flat();
  await Promise.all(
    Array.from({ length: request.callers }, async () => {
      for (let hostId = warmUp.shift(); hostId !== undefined; hostId = warmUp.shift()) {
        await Promise.all([deps.hosts.find(BigInt(hostId)), tasks.lockHolder(hostId)]);
      }
    }),
  );
  const ms: number[] = [];
  const taskIds: number[] = [];
  const queue = [...request.hostIds];
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: request.callers }, async () => {
      for (let hostId = queue.shift(); hostId !== undefined; hostId = queue.shift()) {
        const started = performance.now();
        const { task } = await startRestartTask(
          { hostId: BigInt(hostId), creator: 'bench', type: 'MANUAL', prohibitRollback: false },
          deps,
        );
        ms.push(performance.now() - started);
        taskIds.push(task.id);
      }
    }),
  );
  const cpu = process.cpuUsage(cpuBefore);
  const output: BaselineResult = {
    ms,
    taskIds,
    seconds: (performance.now() - startedAt) / 1000,
    cpuMsPerRestart: (cpu.user + cpu.system) / 1000 / Math.max(1, ms.length),
    startExecutionMs: taskIds.map((taskId) => workflow.msByTask.get(taskId) ?? 0),
  };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
