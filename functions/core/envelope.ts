import { DomainError } from './errors.ts';
import { ocpTimestamp } from './time.ts';

/** Per-request facts every OCP envelope carries. */
export interface RequestScope {
  traceId: string;
  server: string;
  startedAt: number;
}

export interface OcpSuccessEnvelope<T> {
  data: T;
  successful: true;
  timestamp: string;
  duration: number;
  status: number;
  traceId: string;
  server: string;
}

export interface OcpErrorEnvelope {
  successful: false;
  timestamp: string;
  duration: number;
  status: number;
  traceId: string;
  server: string;
  error: { code: number; message: string; target?: string };
}

export type OcpEnvelope<T> = OcpSuccessEnvelope<T> | OcpErrorEnvelope;

/** Code and message of the error envelope for anything unexpected: no internal detail reaches the caller. */
export const INTERNAL_ERROR = {
  code: 10000,
  message: 'Internal server error; quote the traceId to the operator.',
};

export function successEnvelope<T>(scope: RequestScope, data: T, status = 200): OcpSuccessEnvelope<T> {
  const now = Date.now();
  return {
    data,
    successful: true,
    timestamp: ocpTimestamp(new Date(now)),
    duration: now - scope.startedAt,
    status,
    traceId: scope.traceId,
    server: scope.server,
  };
}

export function errorEnvelope(scope: RequestScope, error: unknown): OcpErrorEnvelope {
  const now = Date.now();
  const known = error instanceof DomainError;
  return {
    successful: false,
    timestamp: ocpTimestamp(new Date(now)),
    duration: now - scope.startedAt,
    status: known ? error.httpStatus : 500,
    traceId: scope.traceId,
    server: scope.server,
    error: known
      ? { code: error.ocpCode, message: error.message, ...(error.target ? { target: error.target } : {}) }
      : INTERNAL_ERROR,
  };
}

/** OCP's page of a listing: `number` counts from 1, as the request's `page` does. */
export interface OcpPage<T> {
  contents: T[];
  page: { totalElements: number; totalPages: number; number: number; size: number };
}

export function ocpPage<T>(contents: T[], totalElements: number, number: number, size: number): OcpPage<T> {
  return { contents, page: { totalElements, totalPages: Math.ceil(totalElements / size), number, size } };
}
