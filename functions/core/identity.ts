import { NotAuthenticated, PermissionDenied } from './errors.ts';
import { parseListClaim } from './list-claim.ts';
import { MAX_USERNAME_LENGTH } from './task-limits.ts';

export { parseListClaim };

/** OCP permissions this product checks. */
export type Permission = 'HOST_MANAGER' | 'HOST_VIEWER' | 'TASK_MANAGER' | 'TASK_VIEWER';

/** The verified caller. */
export interface Caller {
  username: string;
  permissions: ReadonlySet<string>;
}

export type Claims = Record<string, unknown>;

/**
 * Reads the caller from JWT claims verified by the authorizer; a username longer than
 * MAX_USERNAME_LENGTH is no valid identity. API Gateway's JWT authorizer hands
 * array claims to the Lambda as one string, "[a b]"; a local or direct caller may pass a real array.
 */
export function callerFromClaims(claims: Claims | undefined, permissionsClaim: string): Caller {
  if (!claims) throw new NotAuthenticated();
  const username = firstString(claims['cognito:username'], claims.username, claims.sub);
  if (!username || username.length > MAX_USERNAME_LENGTH) throw new NotAuthenticated();
  return { username, permissions: new Set(parseListClaim(claims[permissionsClaim])) };
}

export function requirePermission(caller: Caller, ...anyOf: Permission[]): void {
  if (!anyOf.some((permission) => caller.permissions.has(permission))) throw new PermissionDenied(anyOf);
}

function firstString(...values: unknown[]): string | undefined {
  return values.find((value): value is string => typeof value === 'string' && value.length > 0);
}
