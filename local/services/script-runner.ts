import { Worker } from 'node:worker_threads';
import { BACKGROUND_NICE, THREAD_PRIORITY_MODULE } from '../cpu-priority.ts';

/** A shell script to run in its own process group, its stdout and stderr read through pipes. */
export interface ScriptRun {
  script: string;
  cwd: string;
  env: Record<string, string>;
}

/** How a script ended: its exit (or the error that kept it from starting) and its output. */
export interface ScriptExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the run was stopped: its process group was SIGKILLed and its output cut there. */
  stopped?: true;
  /** Set when the script could not be started or waited for. */
  error?: string;
}

/** A script's output as it is written, chunk by chunk (a chunk may end inside a line or a character). */
export type OutputListener = (channel: 'stdout' | 'stderr', chunk: Uint8Array) => void;

export interface RunningScript {
  /**
   * SIGKILLs the script's process group and ends the run at once with the output read so far,
   * even if a process outside the group still holds its pipes (the SSM agent does not wait for them).
   */
  stop(): void;
  exited: Promise<ScriptExit>;
}

type WorkerRequest =
  | ({ id: number; start: true; streamOutput: boolean } & ScriptRun)
  | { id: number; stop: true };
type WorkerMessage =
  | ({ id: number } & ScriptExit)
  | { id: number; output: 'stdout' | 'stderr'; chunk: Uint8Array };

/**
 * The worker writes each script to a temporary folder and spawns `bash` on it in a process group of
 * its own, as the SSM agent does (Go's `SysProcAttr{Setpgid: true}`, agent/executers/executers_unix.go):
 * a new group, not a new session, so the script stays in local mode's session and scheduling group
 * and runs at the nice value given to it (cpu-priority.ts). Node's spawn can only make a new session
 * (`detached`), so perl makes the group; without perl the script runs in a session of its own and,
 * with the kernel's autogroup scheduling, as much as all of local mode together. Stdout and stderr
 * are read through pipes. As the SSM agent's Go `exec.Cmd.Wait` does, a
 * run ends when the script has exited AND both pipes have closed ('close', not 'exit'), with no
 * bound but the execution timeout: a process the script started that still holds a pipe keeps the
 * command running. A stop SIGKILLs the group (the agent's timeout and cancel send nothing else) and
 * ends the run without waiting. The folder is removed when the run ends. With streamOutput, each
 * chunk read is also posted as it comes (before the run's end, since messages keep their order).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// Scripts inherit the nice value of the thread that spawns them: this one's.
require(workerData.threadPriorityModule).lowerThreadPriority(workerData.nice);
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const runs = new Map();
// perl makes itself a process group leader, then execs bash in place: same pid, same session.
const GROUP_LEADER_ARGS = ['-e', 'setpgrp(0, 0) or die "setpgrp: $!\\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n"'];
// Its absolute path: a script's env may have a PATH without it.
const probe = workerData.groupLauncher
  ? spawnSync(workerData.groupLauncher, ['-e', 'print $^X'], { encoding: 'utf8' })
  : undefined;
const groupLauncher = probe && probe.status === 0 && probe.stdout ? probe.stdout : undefined;
if (probe && !groupLauncher) {
  console.warn(\`local SSM: no \${workerData.groupLauncher} to start scripts in a process group of this session, as the SSM agent does; they run in a session of their own (setsid)\`);
}
const text = (chunks) => Buffer.concat(chunks).toString('utf8');
function start({ id, script, cwd, env, streamOutput }) {
  let dir, child;
  try {
    dir = fs.mkdtempSync(join(tmpdir(), 'local-ssm-'));
    const scriptPath = join(dir, '_script.sh');
    fs.writeFileSync(scriptPath, script, { mode: 0o700 });
    child = groupLauncher
      ? spawn(groupLauncher, [...GROUP_LEADER_ARGS, 'bash', scriptPath], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn('bash', [scriptPath], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  } catch (error) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    parentPort.postMessage({ id, code: 1, signal: null, stdout: '', stderr: '', error: String(error && error.message || error) });
    return;
  }
  const stdout = [];
  const stderr = [];
  const read = (channel, chunks) => (chunk) => {
    chunks.push(chunk);
    if (streamOutput) parentPort.postMessage({ id, output: channel, chunk });
  };
  child.stdout?.on('data', read('stdout', stdout));
  child.stderr?.on('data', read('stderr', stderr));
  const settle = (result) => {
    if (!runs.has(id)) return;
    runs.delete(id);
    child.stdout?.destroy();
    child.stderr?.destroy();
    try { fs.rmSync(dir, { recursive: true, force: true }); } catch {}
    parentPort.postMessage({ id, stdout: text(stdout), stderr: text(stderr), ...result });
  };
  runs.set(id, { child, settle });
  child.once('close', (code, signal) => settle({ code, signal }));
  child.once('error', (error) => settle({ code: 1, signal: null, error: error.message }));
}
function stop(id) {
  const run = runs.get(id);
  if (!run) return;
  const pid = run.child.pid;
  if (pid !== undefined) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // No such group: it is gone, or perl has not made it yet (then nothing else is in it).
      try { process.kill(pid, 'SIGKILL'); } catch {}
    }
  }
  run.settle({ code: null, signal: 'SIGKILL', stopped: true });
}
parentPort.on('message', (request) => (request.stop ? stop(request.id) : start(request)));
`;

/**
 * Runs scripts from a worker thread. Node's spawn blocks the calling thread until the child has
 * forked and exec'd; with many commands at once (a fleet restart) that stalled local mode's single
 * event loop — API, Step Functions and callbacks alike — for seconds (see BENCHMARKS.md).
 */
export class ScriptRunner {
  /** @param groupLauncher the perl that starts each script in a process group (none: a session of its own). */
  constructor(private readonly groupLauncher: string | undefined = 'perl') {}

  private worker: Worker | undefined;
  private nextId = 0;
  private readonly runs = new Map<number, (exit: ScriptExit) => void>();
  private readonly listeners = new Map<number, OutputListener>();

  /** Runs the script; `onOutput` receives its output as it is written. */
  run(request: ScriptRun, onOutput?: OutputListener): RunningScript {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    let resolveExit!: (exit: ScriptExit) => void;
    const exited = new Promise<ScriptExit>((resolve) => {
      resolveExit = resolve;
    });
    this.runs.set(id, resolveExit);
    if (onOutput) this.listeners.set(id, onOutput);
    // Only a script in progress keeps the process alive.
    if (this.runs.size === 1) worker.ref();
    this.post(worker, { id, start: true, streamOutput: onOutput !== undefined, ...request });
    // Requests reach the worker in order: a stop always finds its script spawned (or already ended).
    const stop = () => {
      if (this.runs.has(id)) this.post(worker, { id, stop: true });
    };
    return { stop, exited };
  }

  /** Ends the worker; scripts not stopped first keep running. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
    for (const resolve of this.runs.values()) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', error: 'The script runner was closed' });
    }
    this.runs.clear();
    this.listeners.clear();
  }

  private post(worker: Worker, request: WorkerRequest): void {
    worker.postMessage(request);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        threadPriorityModule: THREAD_PRIORITY_MODULE,
        nice: BACKGROUND_NICE,
        groupLauncher: this.groupLauncher,
      },
    });
    worker.unref();
    worker.on('message', (message: WorkerMessage) => {
      if ('output' in message) {
        this.listeners.get(message.id)?.(message.output, message.chunk);
        return;
      }
      const { id, ...result } = message;
      const resolve = this.runs.get(id);
      if (!resolve) return;
      this.runs.delete(id);
      this.listeners.delete(id);
      if (this.runs.size === 0) worker.unref();
      resolve(result);
    });
    worker.on('error', (error) => {
      for (const resolve of this.runs.values()) {
        resolve({ code: 1, signal: null, stdout: '', stderr: '', error: error.message });
      }
      this.runs.clear();
      this.listeners.clear();
      this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }
}
