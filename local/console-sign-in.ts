import { isIP } from 'node:net';
import { LOCAL_SIGN_IN_PATH } from '#core/console';
import { errorEnvelope } from '#core/envelope';
import { DomainError, InvalidArgument } from '#core/errors';
import type { Permission } from '#core/identity';
import { newRequestScope } from '#http/request-scope';
import type { ExtraRoute, ExtraRouteRequest } from './api-gateway.ts';
import { LOCAL_USER_PATTERN, type LocalSigningKey, signLocalToken } from './jwt.ts';

const ALL_PERMISSIONS: readonly Permission[] = ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'];
const DEFAULT_USER = 'local-operator';
const TOKEN_LIFETIME_SECONDS = 8 * 3600;

class LoopbackOnly extends DomainError {
  readonly httpStatus = 403;
  readonly ocpCode = 30014;
  readonly ocpCodeName = 'IAM_OPERATION_NOT_PERMITTED';
}

/**
 * POST /console/local-sign-in: a token for whoever sits at this machine. Refused unless the socket
 * is loopback and the Host header names loopback (so a page of another site, or a DNS name rebound to
 * 127.0.0.1, gets nothing); the JSON content type makes a cross-origin browser ask first, and nothing
 * answers that preflight.
 */
export function loopbackSignInRoute(signingKey: LocalSigningKey): ExtraRoute {
  return {
    method: 'POST',
    path: LOCAL_SIGN_IN_PATH,
    handle: async (request) => {
      const scope = newRequestScope();
      try {
        refuseUnlessLoopback(request);
        const { user, permissions } = signInRequest(request);
        const expiresAt = new Date(Date.now() + TOKEN_LIFETIME_SECONDS * 1000);
        // jose reads a number as an absolute time, so the lifetime travels as a span.
        const token = await signLocalToken(
          { user, permissions, expiresIn: `${TOKEN_LIFETIME_SECONDS}s` },
          signingKey,
        );
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          body: JSON.stringify({ token, expiresAt: expiresAt.toISOString(), user, permissions }),
        };
      } catch (error) {
        const envelope = errorEnvelope(scope, error);
        return {
          statusCode: envelope.status,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
          body: JSON.stringify(envelope),
        };
      }
    },
  };
}

function refuseUnlessLoopback(request: ExtraRouteRequest): void {
  const host = request.headers.host ?? '';
  const hostname = hostnameOf(host);
  if (
    !isLoopbackAddress(request.remoteAddress) ||
    !(hostname === 'localhost' || isLoopbackAddress(hostname))
  ) {
    throw new LoopbackOnly('The local sign-in answers only callers on this machine, at a loopback address.');
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) {
    throw new LoopbackOnly(`The local sign-in answers only the console's own page, not ${origin}.`);
  }
  if (!(request.headers['content-type'] ?? '').toLowerCase().startsWith('application/json')) {
    throw new InvalidArgument('The local sign-in takes a JSON body (Content-Type: application/json).');
  }
}

function signInRequest(request: ExtraRouteRequest): { user: string; permissions: Permission[] } {
  const text = request.body.toString('utf8').trim();
  let body: unknown = {};
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      throw new InvalidArgument('The local sign-in body is not JSON.');
    }
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgument('The local sign-in body must be a JSON object.');
  }
  const { user = DEFAULT_USER, permissions = ALL_PERMISSIONS } = body as {
    user?: unknown;
    permissions?: unknown;
  };
  if (typeof user !== 'string' || !LOCAL_USER_PATTERN.test(user)) {
    throw new InvalidArgument('user must be 1-128 letters, digits or . _ @ + - characters.', 'user');
  }
  if (!Array.isArray(permissions) || !permissions.every((item) => ALL_PERMISSIONS.includes(item))) {
    throw new InvalidArgument(`permissions must be a list of ${ALL_PERMISSIONS.join(', ')}.`, 'permissions');
  }
  return { user, permissions: [...new Set(permissions as Permission[])] };
}

function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d+$/, '');
}

function isLoopbackAddress(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  return address === '::1';
}
