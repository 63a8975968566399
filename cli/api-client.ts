import { API_ROUTES, type RouteId } from '../functions/http/routes.ts';
import { CliFailure, EXIT } from './exit-codes.ts';

/** Where the CLI sends its calls, and as whom. */
export interface ApiTarget {
  apiUrl: string;
  token: string;
}

/** OCP's error envelope, as the API answers a refused call. */
export interface OcpError {
  code: number;
  message: string;
  target?: string;
}

/** The API refused the call: its HTTP status and OCP's error. */
export class ApiRefusal extends CliFailure {
  constructor(
    readonly httpStatus: number,
    readonly error: OcpError,
  ) {
    super(`HTTP ${httpStatus} / ${error.code}: ${error.message}`, exitCodeFor(httpStatus), {
      httpStatus,
      ...error,
    });
  }
}

function exitCodeFor(httpStatus: number): number {
  if (httpStatus === 401 || httpStatus === 403) return EXIT.refused;
  if (httpStatus >= 400 && httpStatus < 500) return EXIT.badInput;
  return EXIT.unreachable;
}

export interface Route {
  method: string;
  path: string;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** Calls the API's routes (functions/http/routes.ts) and unwraps OCP's envelope. */
export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  async call<Data>(
    route: RouteId | Route,
    options: {
      path?: Record<string, string | number>;
      query?: Record<string, string | number | undefined>;
      body?: unknown;
    } = {},
  ): Promise<Data> {
    const { method, path } = typeof route === 'string' ? API_ROUTES[route] : route;
    const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = options.path?.[name];
      if (value === undefined) throw new Error(`${method} ${path} needs ${name}`);
      return encodeURIComponent(String(value));
    });
    const url = new URL(`${this.target.apiUrl.replace(/\/+$/, '')}${filled}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${this.target.token}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const reason =
        cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
      throw new CliFailure(`Cannot reach the API at ${this.target.apiUrl}: ${reason}`, EXIT.unreachable);
    }
    const text = await response.text();
    let envelope: { successful?: boolean; data?: Data; error?: OcpError; message?: string };
    try {
      envelope = JSON.parse(text);
    } catch {
      throw new CliFailure(
        `The API answered HTTP ${response.status} with no OCP envelope: ${text.slice(0, 200)}`,
        response.status === 401 || response.status === 403 ? EXIT.refused : EXIT.unreachable,
      );
    }
    if (response.ok && envelope.successful !== false) return envelope.data as Data;
    // API Gateway's own JWT authorizer answers {"message":"Unauthorized"} with no envelope.
    throw new ApiRefusal(
      response.status,
      envelope.error ?? { code: response.status, message: envelope.message ?? 'refused' },
    );
  }
}
