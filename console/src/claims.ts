import { parseListClaim } from '../../functions/core/list-claim.ts';

/** What the console reads of a token: who, which permissions, until when. It verifies nothing: the API does. */
export interface TokenFacts {
  user: string;
  permissions: ReadonlySet<string>;
  /** Milliseconds since the epoch; undefined when the token has no `exp`. */
  expiresAt?: number;
}

export function readToken(token: string, permissionsClaim: string, now = Date.now()): TokenFacts {
  const parts = token.trim().split('.');
  if (parts.length !== 3 || !parts[1]) throw new Error('This is not a JWT (three dot-separated parts).');
  let payload: Record<string, unknown>;
  try {
    const base64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='));
    payload = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    throw new Error('This JWT’s payload is not readable JSON.');
  }
  if (typeof payload !== 'object' || payload === null)
    throw new Error('This JWT’s payload is not an object.');
  const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  if (expiresAt !== undefined && expiresAt <= now) throw new Error('This token has expired.');
  const user = [payload['cognito:username'], payload.username, payload.sub].find(
    (value): value is string => typeof value === 'string' && value.length > 0,
  );
  return {
    user: user ?? '(unnamed)',
    permissions: new Set(parseListClaim(payload[permissionsClaim])),
    ...(expiresAt === undefined ? {} : { expiresAt }),
  };
}
