import { Worker } from 'node:worker_threads';

/** A shell script to run detached (its own process group), with stdout and stderr kept in files. */
export interface ScriptRun {
  script: string;
  cwd: string;
  env: Record<string, string>;
}

/** How a script ended: its exit (or the error that kept it from starting) and its complete output. */
export interface ScriptExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the script could not be started or waited for. */
  error?: string;
}

export interface RunningScript {
  /** The process group leader's pid, once started (undefined if it could not start). */
  pid: Promise<number | undefined>;
  exited: Promise<ScriptExit>;
}

type WorkerMessage = { id: number; pid: number | undefined } | ({ id: number; exit: true } & ScriptExit);

/**
 * The worker writes each script to a temporary folder, spawns `bash` on it with output to files (as the
 * SSM agent does, so a background process keeping a descriptor open cannot hold the command open),
 * and on exit reads the output and removes the folder.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { join } = require('node:path');
const { tmpdir } = require('node:os');
const readText = (path) => { try { return fs.readFileSync(path, 'utf8'); } catch { return ''; } };
parentPort.on('message', ({ id, script, cwd, env }) => {
  let dir, child;
  try {
    dir = fs.mkdtempSync(join(tmpdir(), 'local-ssm-'));
    const scriptPath = join(dir, '_script.sh');
    fs.writeFileSync(scriptPath, script, { mode: 0o700 });
    const stdout = fs.openSync(join(dir, 'stdout'), 'w');
    const stderr = fs.openSync(join(dir, 'stderr'), 'w');
    try {
      child = spawn('bash', [scriptPath], { cwd, detached: true, stdio: ['ignore', stdout, stderr], env });
    } finally {
      fs.closeSync(stdout);
      fs.closeSync(stderr);
    }
  } catch (error) {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    parentPort.postMessage({ id, pid: undefined });
    parentPort.postMessage({ id, exit: true, code: 1, signal: null, stdout: '', stderr: '', error: String(error && error.message || error) });
    return;
  }
  parentPort.postMessage({ id, pid: child.pid });
  let settled = false;
  const settle = (code, signal, error) => {
    if (settled) return;
    settled = true;
    const stdout = readText(join(dir, 'stdout'));
    const stderr = readText(join(dir, 'stderr'));
    fs.rm(dir, { recursive: true, force: true }, () => {});
    parentPort.postMessage({ id, exit: true, code, signal, stdout, stderr, ...(error ? { error } : {}) });
  };
  child.once('exit', (code, signal) => settle(code, signal));
  child.once('error', (error) => settle(1, null, error.message));
});
`;

/**
 * Runs scripts from a worker thread. Node's spawn blocks the calling thread until the child has
 * forked and exec'd; with many commands at once (a fleet restart) that stalled local mode's single
 * event loop — API, Step Functions and callbacks alike — for seconds (see BENCHMARKS.md).
 */
export class ScriptRunner {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly runs = new Map<
    number,
    { pid: (pid: number | undefined) => void; exit: (exit: ScriptExit) => void }
  >();

  run(request: ScriptRun): RunningScript {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    let resolvePid!: (pid: number | undefined) => void;
    let resolveExit!: (exit: ScriptExit) => void;
    const pid = new Promise<number | undefined>((resolve) => {
      resolvePid = resolve;
    });
    const exited = new Promise<ScriptExit>((resolve) => {
      resolveExit = resolve;
    });
    this.runs.set(id, { pid: resolvePid, exit: resolveExit });
    // Only a script in progress keeps the process alive.
    if (this.runs.size === 1) worker.ref();
    worker.postMessage({ id, ...request });
    return { pid, exited };
  }

  /** Ends the worker; scripts already started keep running (stop them by their process group first). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
    for (const run of this.runs.values()) {
      run.pid(undefined);
      run.exit({ code: null, signal: null, stdout: '', stderr: '', error: 'The script runner was closed' });
    }
    this.runs.clear();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (message: WorkerMessage) => {
      const run = this.runs.get(message.id);
      if (!run) return;
      if (!('exit' in message)) {
        run.pid(message.pid);
        return;
      }
      this.runs.delete(message.id);
      if (this.runs.size === 0) worker.unref();
      const { id: _id, exit: _exit, ...result } = message;
      run.exit(result);
    });
    worker.on('error', (error) => {
      for (const run of this.runs.values()) {
        run.pid(undefined);
        run.exit({ code: 1, signal: null, stdout: '', stderr: '', error: error.message });
      }
      this.runs.clear();
      this.worker = undefined;
    });
    this.worker = worker;
    return worker;
  }
}
