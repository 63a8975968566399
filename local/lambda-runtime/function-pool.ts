import { FunctionInstance, type InstanceSpec } from './instance.ts';

/** A function's instances as local mode counts them (the benchmarks read these). */
export interface PoolStats {
  /** Instances started so far: each one a cold start. */
  coldStarts: number;
  /** Each cold start's time, instance start to module loaded (ms). */
  coldStartMs: number[];
  /** Instances alive now (warm, busy or starting). */
  instances: number;
  /** Most instances alive at once. */
  peakInstances: number;
  invocations: number;
  /** The system's thread ids of the instances alive now (Linux; the benchmarks read their CPU time). */
  threadIds: number[];
}

export interface PoolOptions extends InstanceSpec {
  /** Local mode's name for the function, in its log lines (e.g. "api"). */
  id: string;
  /** Most instances at once: further invocations wait for one (AWS would scale on, or throttle). */
  maxInstances: number;
  /** Receives a line per cold start, e.g. "api: cold start 340 ms (instance 2)". */
  log?: (line: string) => void;
}

/**
 * The instances of one function, as Lambda keeps them: an invocation goes to a warm idle instance
 * (the most recently used, whose caches are warmest), else to a new one (a cold start) while fewer
 * than `maxInstances` run, else waits for the next to come free. Each instance serves one invocation
 * at a time.
 */
export class FunctionPool {
  private readonly idle: FunctionInstance[] = [];
  private readonly instances = new Set<FunctionInstance>();
  private readonly waiting: ((instance: Promise<FunctionInstance>) => void)[] = [];
  private readonly counts: Omit<PoolStats, 'threadIds'> = {
    coldStarts: 0,
    coldStartMs: [],
    instances: 0,
    peakInstances: 0,
    invocations: 0,
  };
  private stopped = false;

  constructor(private readonly options: PoolOptions) {
    if (!Number.isInteger(options.maxInstances) || options.maxInstances < 1)
      throw new Error(`${options.id}: maxInstances must be a whole number ≥ 1, not ${options.maxInstances}`);
  }

  /** Invokes the function: the event crosses to the instance as JSON and the result comes back as JSON. */
  async invoke(event: unknown): Promise<unknown> {
    const payload = JSON.stringify(event ?? null);
    const instance = await this.acquire();
    this.counts.invocations++;
    try {
      return JSON.parse(await instance.invoke(payload));
    } finally {
      this.release(instance);
    }
  }

  stats(): PoolStats {
    return {
      ...this.counts,
      coldStartMs: [...this.counts.coldStartMs],
      instances: this.instances.size,
      threadIds: [...this.instances].flatMap((instance) =>
        instance.threadId === undefined ? [] : [instance.threadId],
      ),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0))
      waiter(Promise.reject(new Error(`${this.options.id}: local mode is stopping`)));
    await Promise.all([...this.instances].map((instance) => instance.terminate()));
    this.instances.clear();
    this.idle.length = 0;
  }

  private acquire(): Promise<FunctionInstance> {
    if (this.stopped) return Promise.reject(new Error(`${this.options.id}: local mode is stopping`));
    const warm = this.idle.pop();
    if (warm) return Promise.resolve(warm);
    if (this.instances.size < this.options.maxInstances) return this.startInstance();
    return new Promise<Promise<FunctionInstance>>((resolve) => this.waiting.push(resolve)).then(
      (instance) => instance,
    );
  }

  private release(instance: FunctionInstance): void {
    if (!instance.alive) this.instances.delete(instance);
    const next = this.waiting.shift();
    if (!next) {
      if (instance.alive) this.idle.push(instance);
      return;
    }
    next(instance.alive ? Promise.resolve(instance) : this.startInstance());
  }

  private async startInstance(): Promise<FunctionInstance> {
    this.counts.coldStarts++;
    const instance = new FunctionInstance(this.options, this.counts.coldStarts);
    this.instances.add(instance);
    this.counts.peakInstances = Math.max(this.counts.peakInstances, this.instances.size);
    try {
      const ms = await instance.ready;
      this.counts.coldStartMs.push(ms);
      this.options.log?.(`${this.options.id}: cold start ${Math.round(ms)} ms (instance ${instance.number})`);
      return instance;
    } catch (error) {
      this.instances.delete(instance);
      // Whoever waits next gets a fresh attempt, as Lambda retries the init on the next invocation.
      const next = this.waiting.shift();
      if (next) next(this.startInstance());
      throw error;
    }
  }
}
