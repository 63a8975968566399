import type { FinalizeRequestMiddleware, InitializeMiddleware } from '@smithy/types';

/** How an injected fault shows itself to the SDK. */
export type FaultKind =
  /** DynamoDB/Step Functions throttling (retryable, with the SDK's throttling backoff). */
  | 'throttle'
  /** A connection reset before the request reached the service (retryable). */
  | 'reset'
  /** A 500 from the service (retryable). */
  | 'server-error'
  /** The request is applied, then the connection resets before the answer (retryable, not idempotent!). */
  | 'reset-after-commit'
  /** AccessDeniedException: a client error, not retried. */
  | 'denied';

/** One fault: which calls it hits (by operation and serialized request body), how, and on which attempts. */
export interface Fault {
  kind: FaultKind;
  /** Operation names, e.g. "TransactWriteItems" (from the X-Amz-Target header). */
  operations?: readonly string[];
  /** A text the serialized request body must contain. */
  bodyIncludes?: string;
  /** Attempts of each call that fail (1 = the first only); Infinity for a permanent fault. */
  attempts: number;
  /** At most this many calls are hit (default: every matching call). */
  calls?: number;
}

/** What the SDK did about the injected faults. */
export interface FaultLog {
  injected: number;
  /** Calls that were retried, and the SDK's total backoff across them (ms). */
  retriedCalls: number;
  totalRetryDelayMs: number;
  operations: Set<string>;
}

interface SdkClient {
  middlewareStack: {
    add(middleware: FinalizeRequestMiddleware<object, object>, options: object): void;
    add(middleware: InitializeMiddleware<object, object>, options: object): void;
    remove(name: string): boolean;
  };
}

/**
 * Fault injection inside an SDK client's retry loop: a middleware after the retry middleware fails
 * chosen attempts of chosen calls, so the client's own retry strategy (and its backoff) handles
 * them exactly as it would a real throttle or network error.
 */
export class FaultInjector {
  private fault: (Fault & { hit: Set<string> }) | undefined;
  readonly log: FaultLog = { injected: 0, retriedCalls: 0, totalRetryDelayMs: 0, operations: new Set() };

  constructor(private readonly clients: readonly SdkClient[]) {
    for (const client of clients) {
      client.middlewareStack.add(this.inject(), {
        step: 'finalizeRequest',
        priority: 'low',
        name: 'resilienceFaultInjection',
      });
      client.middlewareStack.add(this.observe(), { step: 'initialize', name: 'resilienceRetryObserver' });
    }
  }

  arm(fault: Fault): void {
    this.fault = { ...fault, hit: new Set() };
  }

  disarm(): void {
    this.fault = undefined;
  }

  detach(): void {
    this.disarm();
    for (const client of this.clients) {
      client.middlewareStack.remove('resilienceFaultInjection');
      client.middlewareStack.remove('resilienceRetryObserver');
    }
  }

  private inject(): FinalizeRequestMiddleware<object, object> {
    return (next) => async (args) => {
      const fault = this.fault;
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      const headers = request.headers ?? {};
      const operation = String(headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      const attempt = Number(/attempt=(\d+)/.exec(headers['amz-sdk-request'] ?? '')?.[1] ?? 1);
      const callId = headers['amz-sdk-invocation-id'] ?? '';
      const body =
        typeof request.body === 'string'
          ? request.body
          : request.body instanceof Uint8Array
            ? Buffer.from(request.body).toString('utf8')
            : '';
      const matches =
        fault !== undefined &&
        (!fault.operations || fault.operations.includes(operation)) &&
        (!fault.bodyIncludes || body.includes(fault.bodyIncludes)) &&
        attempt <= fault.attempts &&
        (fault.hit.has(callId) || fault.hit.size < (fault.calls ?? Number.POSITIVE_INFINITY));
      if (!fault || !matches) return next(args);
      fault.hit.add(callId);
      this.log.injected++;
      this.log.operations.add(operation);
      if (fault.kind === 'reset-after-commit') {
        await next(args);
        throw faultError('reset');
      }
      throw faultError(fault.kind);
    };
  }

  private observe(): InitializeMiddleware<object, object> {
    return (next) => async (args) => {
      const record = (metadata: { attempts?: number; totalRetryDelay?: number } | undefined) => {
        if ((metadata?.attempts ?? 1) > 1) {
          this.log.retriedCalls++;
          this.log.totalRetryDelayMs += metadata?.totalRetryDelay ?? 0;
        }
      };
      try {
        const result = await next(args);
        record((result.output as { $metadata?: { attempts?: number; totalRetryDelay?: number } }).$metadata);
        return result;
      } catch (error) {
        record((error as { $metadata?: { attempts?: number; totalRetryDelay?: number } }).$metadata);
        throw error;
      }
    };
  }
}

function faultError(kind: Exclude<FaultKind, 'reset-after-commit'>): Error {
  const make = (name: string, message: string, extra: object) =>
    Object.assign(new Error(`${message} (injected)`), { name, ...extra });
  switch (kind) {
    case 'throttle':
      return make(
        'ProvisionedThroughputExceededException',
        'Rate of requests exceeds the allowed throughput',
        {
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        },
      );
    case 'reset':
      return make('Error', 'socket hang up', { code: 'ECONNRESET', $metadata: {} });
    case 'server-error':
      return make('InternalServerError', 'Internal server error', {
        $fault: 'server',
        $metadata: { httpStatusCode: 500 },
      });
    case 'denied':
      return make('AccessDeniedException', 'User is not authorized to perform this action', {
        $fault: 'client',
        $metadata: { httpStatusCode: 400 },
      });
  }
}
