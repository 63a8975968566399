import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { z } from 'zod';

/** Issuer of local mode's tokens; the local API gateway trusts only this one. */
export const LOCAL_ISSUER = 'https://local.ocp-agent-restart/issuer';
/** Audience (app client id) of local mode's tokens. */
export const LOCAL_AUDIENCE = 'ocp-agent-restart-local';
/** API Gateway's JWT authorizer accepts RSA signatures only. */
export const LOCAL_TOKEN_ALGORITHM = 'RS256';
export const SIGNING_KEY_FILE = 'jwt-signing-key.json';

/** Local mode's signing key pair; `kid` is the public key's JWK thumbprint. */
export interface LocalSigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

/** A token the local authorizer refuses; the message names the reason, never the token. */
export class LocalTokenRejected extends Error {
  override readonly name = 'LocalTokenRejected';
}

const StoredKey = z
  .object({
    kty: z.literal('RSA'),
    alg: z.literal(LOCAL_TOKEN_ALGORITHM),
    kid: z.string().min(1),
    n: z.string().min(1),
    e: z.string().min(1),
    d: z.string().min(1),
    p: z.string().min(1),
    q: z.string().min(1),
    dp: z.string().min(1),
    dq: z.string().min(1),
    qi: z.string().min(1),
  })
  .loose();

export const LOCAL_USER_PATTERN = /^[\w.@+-]{1,128}$/;
const PERMISSION = /^[\w.:-]{1,64}$/;
// Fixed namespace, so a user's `sub` is the same UUID (v5 layout) on every machine.
const SUBJECT_NAMESPACE = Buffer.from('6f1c2a3e9b7d4c58a0e2d4f6b8c1e3a5', 'hex');

/** Local mode's state folder: `OCP_LOCAL_DIR`, or `.local` at the repository root. */
export function localStateDir(): string {
  return process.env.OCP_LOCAL_DIR || resolve(__dirname, '..', '.local');
}

/** Reads `<dir>/jwt-signing-key.json`, creating the key pair (mode 0600) on first use. */
export async function loadOrCreateSigningKey(dir: string): Promise<LocalSigningKey> {
  const path = join(dir, SIGNING_KEY_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await createKeyFile(dir, path);
    text = readFileSync(path, 'utf8');
  }
  let stored: z.infer<typeof StoredKey>;
  try {
    stored = StoredKey.parse(JSON.parse(text));
  } catch (error) {
    throw new Error(`${path} is not an ${LOCAL_TOKEN_ALGORITHM} private JWK: delete it to create a new key`, {
      cause: error,
    });
  }
  const publicJwk: JWK = {
    kty: 'RSA',
    n: stored.n,
    e: stored.e,
    alg: stored.alg,
    kid: stored.kid,
    use: 'sig',
  };
  const [privateKey, publicKey] = await Promise.all([
    importJWK(stored, LOCAL_TOKEN_ALGORITHM),
    importJWK(publicJwk, LOCAL_TOKEN_ALGORITHM),
  ]);
  if (privateKey instanceof Uint8Array || publicKey instanceof Uint8Array) {
    throw new Error(`${path} does not hold an asymmetric key`);
  }
  return { kid: stored.kid, privateKey, publicKey, publicJwk };
}

/** Signs a token like a Cognito ID token: the permissions travel in `cognito:groups`. */
export async function signLocalToken(
  request: { user: string; permissions: readonly string[]; expiresIn?: string | number },
  key: LocalSigningKey,
): Promise<string> {
  if (!LOCAL_USER_PATTERN.test(request.user)) {
    throw new Error('The user must be 1-128 letters, digits or . _ @ + - characters');
  }
  const invalid = request.permissions.filter((permission) => !PERMISSION.test(permission));
  if (invalid.length > 0) throw new Error(`Invalid permission names: ${invalid.join(', ')}`);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    'cognito:username': request.user,
    'cognito:groups': [...new Set(request.permissions)],
    token_use: 'id',
    auth_time: now,
  })
    .setProtectedHeader({ alg: LOCAL_TOKEN_ALGORITHM, kid: key.kid, typ: 'JWT' })
    .setSubject(stableSubject(request.user))
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(request.expiresIn ?? '8h')
    .setJti(randomUUID())
    .sign(key.privateKey);
}

/**
 * Verifies a token the way API Gateway's JWT authorizer does: RS256 signature by the key named in
 * `kid`, `iss`, `aud` (or `client_id` when there is no `aud`), `exp`, `nbf` and `iat`.
 */
export async function verifyLocalToken(token: string, key: LocalSigningKey): Promise<JWTPayload> {
  let payload: JWTPayload;
  let kid: string | undefined;
  try {
    const verified = await jwtVerify(token, key.publicKey, {
      algorithms: [LOCAL_TOKEN_ALGORITHM],
      issuer: LOCAL_ISSUER,
      requiredClaims: ['exp'],
    });
    payload = verified.payload;
    kid = verified.protectedHeader.kid;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = error instanceof Error ? error.message : 'invalid token';
    throw new LocalTokenRejected(typeof code === 'string' ? `${code}: ${reason}` : reason);
  }
  if (kid !== key.kid) throw new LocalTokenRejected('the token names no known signing key (kid)');
  const audiences = typeof payload.aud === 'string' ? [payload.aud] : payload.aud;
  const audienceMatches = audiences
    ? audiences.includes(LOCAL_AUDIENCE)
    : payload.client_id === LOCAL_AUDIENCE;
  if (!audienceMatches) throw new LocalTokenRejected('the token is not for this audience');
  if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000) {
    throw new LocalTokenRejected('the token is issued in the future (iat)');
  }
  return payload;
}

async function createKeyFile(dir: string, path: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = await generateKeyPair(LOCAL_TOKEN_ALGORITHM, {
    extractable: true,
    modulusLength: 2048,
  });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const jwk = { ...(await exportJWK(privateKey)), alg: LOCAL_TOKEN_ALGORITHM, use: 'sig', kid };
  // Write aside, then link into place: concurrent first uses keep whichever key landed first.
  const temporary = join(dir, `.${SIGNING_KEY_FILE}.${process.pid}.${randomBytes(4).toString('hex')}`);
  writeFileSync(temporary, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(temporary, 0o600);
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
}

function stableSubject(user: string): string {
  const hash = createHash('sha1').update(SUBJECT_NAMESPACE).update(user, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
