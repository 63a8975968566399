import { randomBytes } from 'node:crypto';
import { FunctionError, runtimeExited, timedOut } from './errors.ts';
import {
  type InstanceChannel,
  type InstanceMessage,
  type Isolation,
  openChannel,
} from './instance-channel.ts';

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
  /** Where the instance runs (instance-channel.ts); a worker thread unless told. */
  isolation?: Isolation;
}

interface Pending {
  requestId: string;
  resolve: (payload: string) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One Lambda execution environment: a worker thread or a child process of its own (own module scope,
 * heap and event loop) that loads the function once and serves one invocation at a time. A timeout,
 * an uncaught error or a heap past the memory limit ends it; the pool starts a fresh one for the next
 * invocation.
 */
export class FunctionInstance {
  /** Resolves with the init time (instance start to module loaded) once the instance can be invoked. */
  readonly ready: Promise<number>;
  /**
   * The system's id of the instance's thread once it is ready (Linux): a worker's own thread, or a
   * child process's main thread, which is its pid. The benchmarks read its CPU time in /proc.
   */
  threadId: number | undefined;
  private readonly channel: InstanceChannel;
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
    this.channel = openChannel(spec.isolation ?? 'thread', {
      runtimeData: {
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
      memoryMb: spec.memoryMb,
    });
    // An idle instance keeps no process alive; a busy one does, until its invocation ends.
    this.channel.keepAlive(false);
    this.ready = new Promise<number>((resolve, reject) => {
      this.failInit = reject;
      this.channel.onMessage((message) => {
        if (message.type === 'ready') {
          this.failInit = undefined;
          this.threadId = message.threadId;
          resolve(performance.now() - started);
        } else if (message.type === 'init-error') {
          this.failInit = undefined;
          this.end();
          reject(new FunctionError(message.error));
        } else if (message.type === 'result' || message.type === 'error') this.settle(message);
      });
    });
    // An instance that never becomes ready rejects `ready`; nobody else need handle that rejection.
    this.ready.catch(() => undefined);
    // As Lambda's Node runtime: an error thrown outside the handler fails the invocation with that
    // error and ends the instance; a heap past the memory limit ends it as out of memory.
    this.channel.onEnd((end) =>
      this.fail((requestId) =>
        end.kind === 'uncaught'
          ? new FunctionError(end.error)
          : end.kind === 'out-of-memory'
            ? runtimeExited(requestId, 'out of memory', true)
            : runtimeExited(requestId, end.reason, false),
      ),
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
      this.channel.keepAlive(true);
      this.channel.post({ requestId, payload, deadline: Date.now() + timeoutMs });
    });
  }

  /** Ends the instance (its current invocation, if any, fails as the runtime's exit). */
  async terminate(): Promise<void> {
    this.fail((requestId) => runtimeExited(requestId, 'the instance was shut down', false));
    await this.channel.terminate();
  }

  private settle(message: Extract<InstanceMessage, { requestId: string }>): void {
    const pending = this.pending;
    if (!pending || pending.requestId !== message.requestId) return;
    this.pending = undefined;
    clearTimeout(pending.timer);
    this.channel.keepAlive(false);
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
    void this.channel.terminate();
  }
}
