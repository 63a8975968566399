import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { FunctionError, type RuntimeErrorPayload, runtimeExited, timedOut } from './errors.ts';

const WORKER_FILE = join(__dirname, 'instance-worker.mjs');

/** What every instance of one function runs with. */
export interface InstanceSpec {
  functionName: string;
  functionArn: string;
  /** The ESM file whose `handler` export the instance runs (a bundle, or a plain module in tests). */
  bundle: string;
  /** The instance's whole process.env (Lambda's own variables are added). */
  environment: Record<string, string>;
  timeoutSeconds: number;
  /** Applied as the instance's V8 old-generation limit: a heap past it ends the instance. */
  memoryMb: number;
  /** The nice value the instance's thread runs at (local/cpu-priority.ts); none: its process's. */
  nice?: number;
}

type WorkerMessage =
  | { type: 'ready'; initMs: number; threadId?: number }
  | { type: 'init-error'; error: RuntimeErrorPayload }
  | { type: 'result'; requestId: string; payload: string }
  | { type: 'error'; requestId: string; error: RuntimeErrorPayload };

interface Pending {
  requestId: string;
  resolve: (payload: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One Lambda execution environment: a worker thread of its own (own module scope, heap and event
 * loop) that loads the function once and serves one invocation at a time. A timeout, an uncaught
 * error or a heap past the memory limit ends it; the pool starts a fresh one for the next invocation.
 */
export class FunctionInstance {
  /** Resolves with the init time (worker start to module loaded) once the instance can be invoked. */
  readonly ready: Promise<number>;
  /** The system's id of the instance's thread once it is ready (Linux), so that its CPU time can be read in /proc. */
  threadId: number | undefined;
  private readonly worker: Worker;
  private pending: Pending | undefined;
  private dead = false;
  private failInit: ((error: Error) => void) | undefined;

  constructor(
    private readonly spec: InstanceSpec,
    readonly number: number,
  ) {
    const started = performance.now();
    const logStreamName = `${new Date().toISOString().slice(0, 10).replaceAll('-', '/')}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const logGroupName = `/aws/lambda/${spec.functionName}`;
    this.worker = new Worker(WORKER_FILE, {
      workerData: {
        bundle: spec.bundle,
        functionName: spec.functionName,
        invokedFunctionArn: spec.functionArn,
        memoryMb: spec.memoryMb,
        nice: spec.nice,
        logGroupName,
        logStreamName,
      },
      env: {
        ...spec.environment,
        AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
        AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
        AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
      },
      // The young generation kept small: ~8 MB less per instance, at the cost of more frequent scavenges.
      resourceLimits: { maxOldGenerationSizeMb: spec.memoryMb, maxYoungGenerationSizeMb: 8 },
    });
    // An idle instance keeps no process alive; a busy one does, until its invocation ends.
    this.worker.unref();
    this.ready = new Promise<number>((resolve, reject) => {
      this.failInit = reject;
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          this.failInit = undefined;
          this.threadId = message.threadId;
          resolve(performance.now() - started);
        } else if (message.type === 'init-error') {
          this.failInit = undefined;
          this.end();
          reject(new FunctionError(message.error));
        } else this.settle(message);
      });
    });
    // An instance that never becomes ready rejects `ready`; nobody else need handle that rejection.
    this.ready.catch(() => undefined);
    // As Lambda's Node runtime: an error thrown outside the handler fails the invocation with that
    // error and ends the instance; a heap past the memory limit ends it as out of memory.
    this.worker.on('error', (error: Error & { code?: string }) => {
      this.fail((requestId) =>
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? runtimeExited(requestId, 'out of memory', true)
          : new FunctionError({
              errorType: error.name,
              errorMessage: error.message,
              trace: (error.stack ?? '').split('\n'),
            }),
      );
    });
    this.worker.on('exit', (code) =>
      this.fail((requestId) => runtimeExited(requestId, `exit status ${code}`, false)),
    );
  }

  get alive(): boolean {
    return !this.dead;
  }

  /** Runs one invocation: the event as JSON text in, the handler's result as JSON text out. */
  invoke(payload: string): Promise<string> {
    if (this.dead)
      return Promise.reject(new Error(`Instance ${this.number} of ${this.spec.functionName} has ended`));
    if (this.pending) throw new Error(`Instance ${this.number} of ${this.spec.functionName} is busy`);
    const requestId = crypto.randomUUID();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.end();
        reject(timedOut(requestId, this.spec.timeoutSeconds));
      }, timeoutMs);
      this.pending = { requestId, resolve, reject, timer };
      this.worker.ref();
      this.worker.postMessage({ requestId, payload, deadline: Date.now() + timeoutMs });
    });
  }

  /** Ends the instance (its current invocation, if any, fails as the runtime's exit). */
  async terminate(): Promise<void> {
    this.fail((requestId) => runtimeExited(requestId, 'the instance was shut down', false));
    await this.worker.terminate();
  }

  private settle(message: Extract<WorkerMessage, { requestId: string }>): void {
    const pending = this.pending;
    if (!pending || pending.requestId !== message.requestId) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    this.worker.unref();
    if (message.type === 'result') pending.resolve(message.payload);
    else pending.reject(new FunctionError(message.error));
  }

  private fail(report: (requestId: string) => FunctionError): void {
    const pending = this.pending;
    this.pending = undefined;
    if (pending) {
      clearTimeout(pending.timer);
      pending.reject(report(pending.requestId));
    }
    this.failInit?.(report('init'));
    this.failInit = undefined;
    this.end();
  }

  private end(): void {
    if (this.dead) return;
    this.dead = true;
    void this.worker.terminate();
  }
}
