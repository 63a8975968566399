import { fork } from 'node:child_process';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { RuntimeErrorPayload } from './errors.ts';

/** The code every instance runs, as a worker thread or as a child process. */
const RUNTIME_FILE = join(__dirname, 'instance-runtime.mjs');
/** In the command line of every instance that runs as a child process (the benchmarks find them by it). */
export const INSTANCE_PROCESS_MARKER = basename(RUNTIME_FILE);

/**
 * Where an instance runs: a worker thread of local mode's process, or a child process of its own,
 * whose main thread, V8 heap and GC helper threads no other instance shares (README, "How local
 * mode runs the functions", says which functions run where and why).
 */
export type Isolation = 'thread' | 'process';

export type InstanceMessage =
  | { type: 'ready'; initMs: number; threadId?: number }
  | { type: 'init-error'; error: RuntimeErrorPayload }
  | { type: 'result'; requestId: string; payload: string }
  | { type: 'error'; requestId: string; error: RuntimeErrorPayload }
  /** A child process's uncaught error (a worker thread's arrives as its `error` event). */
  | { type: 'uncaught'; error: RuntimeErrorPayload };

/** How an instance ended without being asked to. */
export type InstanceEnd =
  | { kind: 'uncaught'; error: RuntimeErrorPayload }
  | { kind: 'out-of-memory' }
  | { kind: 'exit'; reason: string };

export interface InstanceSettings {
  /** What instance-runtime.mjs reads: the bundle, the context's names, the nice value. */
  runtimeData: Record<string, unknown>;
  env: Record<string, string>;
  memoryMb: number;
}

/** The instance's side of local mode, whatever it runs in. */
export interface InstanceChannel {
  onMessage(listener: (message: InstanceMessage) => void): void;
  /** Called once, when the instance ends by itself (not after `terminate`). */
  onEnd(listener: (end: InstanceEnd) => void): void;
  post(message: unknown): void;
  /** Whether the instance keeps local mode's process alive: only while it runs an invocation. */
  keepAlive(busy: boolean): void;
  terminate(): Promise<void>;
}

/** `listener` at most once, and never after `terminate` (`terminated()` true). */
function endOnce(listener: (end: InstanceEnd) => void, terminated: () => boolean) {
  let ended = false;
  return (end: InstanceEnd) => {
    if (ended || terminated()) return;
    ended = true;
    listener(end);
  };
}

export function openChannel(isolation: Isolation, settings: InstanceSettings): InstanceChannel {
  return isolation === 'process' ? processChannel(settings) : threadChannel(settings);
}

function threadChannel({ runtimeData, env, memoryMb }: InstanceSettings): InstanceChannel {
  const worker = new Worker(RUNTIME_FILE, {
    workerData: runtimeData,
    env,
    // The young generation kept small: ~8 MB less per instance, at the cost of more frequent scavenges.
    resourceLimits: { maxOldGenerationSizeMb: memoryMb, maxYoungGenerationSizeMb: 8 },
  });
  let terminated = false;
  return {
    onMessage: (listener) => worker.on('message', listener),
    onEnd: (listener) => {
      const end = endOnce(listener, () => terminated);
      worker.on('error', (error: Error & { code?: string }) => {
        end(
          error.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? { kind: 'out-of-memory' }
            : {
                kind: 'uncaught',
                error: {
                  errorType: error.name,
                  errorMessage: error.message,
                  trace: (error.stack ?? '').split('\n'),
                },
              },
        );
      });
      worker.on('exit', (code) => end({ kind: 'exit', reason: `exit status ${code}` }));
    },
    post: (message) => worker.postMessage(message),
    keepAlive: (busy) => (busy ? worker.ref() : worker.unref()),
    terminate: async () => {
      terminated = true;
      await worker.terminate();
    },
  };
}

function processChannel({ runtimeData, env, memoryMb }: InstanceSettings): InstanceChannel {
  const child = fork(RUNTIME_FILE, [JSON.stringify(runtimeData)], {
    env,
    // The function's memory as the V8 heap limit, and a young generation as small as a worker's.
    execArgv: [`--max-old-space-size=${memoryMb}`, '--max-semi-space-size=4'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  // Through local mode's own streams, as a worker's output goes: whoever reads local mode's output
  // (its terminal, a test capturing its logs) reads the instance's too.
  child.stdout?.pipe(process.stdout, { end: false });
  child.stderr?.pipe(process.stderr, { end: false });
  let terminated = false;
  let uncaught: RuntimeErrorPayload | undefined;
  // 'close' comes after the IPC channel has delivered every message the process sent, 'exit' may not.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const ipc = () => child.channel as { ref(): void; unref(): void } | null | undefined;
  return {
    onMessage: (listener) =>
      child.on('message', (message: InstanceMessage) => {
        if (message.type === 'uncaught') uncaught = message.error;
        else listener(message);
      }),
    onEnd: (listener) => {
      const end = endOnce(listener, () => terminated);
      // A spawn that fails (no such executable, too many processes) ends the instance too.
      child.on('error', (error) => end({ kind: 'exit', reason: error.message }));
      child.on('close', (code, signal) => {
        if (uncaught) end({ kind: 'uncaught', error: uncaught });
        // V8 aborts the process when the heap passes --max-old-space-size ("JavaScript heap out of memory").
        else if (signal === 'SIGABRT') end({ kind: 'out-of-memory' });
        else end({ kind: 'exit', reason: signal ? `signal: ${signal}` : `exit status ${code}` });
      });
    },
    post: (message) => child.send(message as never),
    keepAlive: (busy) => {
      if (busy) {
        child.ref();
        ipc()?.ref();
      } else {
        child.unref();
        ipc()?.unref();
      }
    },
    terminate: async () => {
      terminated = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await closed;
    },
  };
}
