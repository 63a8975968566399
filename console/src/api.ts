import { API_ROUTES, type RouteId } from '../../functions/http/routes.ts';
import { currentToken, signOut } from './auth.ts';

/** The API refused a call: its HTTP status and OCP's error envelope. */
export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number,
    message: string,
    readonly target?: string,
  ) {
    super(message);
  }
}

interface CallOptions {
  path?: Record<string, string | number>;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

/** Calls a route of the API on this origin with the in-memory token; a 401 ends the session. */
export async function api<Data>(route: RouteId, options: CallOptions = {}): Promise<Data> {
  const { method, path } = API_ROUTES[route];
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) =>
    encodeURIComponent(String(options.path?.[name] ?? '')),
  );
  const query = new URLSearchParams(
    Object.entries(options.query ?? {}).flatMap(([name, value]) =>
      value === undefined || value === '' ? [] : [[name, String(value)]],
    ),
  ).toString();
  const token = currentToken();
  if (!token) {
    signOut('Sign in to continue.');
    throw new ApiError(401, 30000, 'Not signed in.');
  }
  const response = await fetch(`${filled}${query ? `?${query}` : ''}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    ...(options.signal ? { signal: options.signal } : {}),
    cache: 'no-store',
  });
  let envelope: {
    successful?: boolean;
    data?: Data;
    error?: { code: number; message: string; target?: string };
    message?: string;
  };
  try {
    envelope = await response.json();
  } catch {
    envelope = {};
  }
  if (response.status === 401) {
    signOut('Your session ended (the API answered 401): sign in again.');
    throw new ApiError(401, envelope.error?.code ?? 30000, envelope.error?.message ?? 'Not authenticated.');
  }
  if (response.ok && envelope.successful !== false) return envelope.data as Data;
  throw new ApiError(
    response.status,
    envelope.error?.code ?? response.status,
    envelope.error?.message ?? envelope.message ?? `HTTP ${response.status}`,
    envelope.error?.target,
  );
}

export const errorText = (error: unknown) =>
  error instanceof ApiError
    ? `${error.message} (HTTP ${error.httpStatus}, code ${error.code}${error.target ? `, ${error.target}` : ''})`
    : error instanceof Error
      ? error.message
      : String(error);
