import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { base64url, exportSPKI, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  type LocalSigningKey,
  LocalTokenRejected,
  loadOrCreateSigningKey,
  SIGNING_KEY_FILE,
  signLocalToken,
  verifyLocalToken,
} from '#local/jwt';

const run = promisify(execFile);
const dirs: string[] = [];
let key: LocalSigningKey;
let otherKey: LocalSigningKey;

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'local-jwt-'));
  dirs.push(dir);
  return dir;
}

beforeAll(async () => {
  key = await loadOrCreateSigningKey(tempDir());
  otherKey = await loadOrCreateSigningKey(tempDir());
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);

/** A token with the local claims, adjusted per test, signed RS256 with `signer`. */
function forge(overrides: JWTPayload = {}, signer: LocalSigningKey = key): Promise<string> {
  const payload: JWTPayload = {
    sub: 'u-1',
    'cognito:username': 'alice',
    'cognito:groups': ['HOST_MANAGER'],
    token_use: 'id',
    iss: LOCAL_ISSUER,
    aud: LOCAL_AUDIENCE,
    iat: now(),
    exp: now() + 3600,
    ...overrides,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: signer.kid }).sign(signer.privateKey);
}

describe('local signing key', () => {
  it('is created once with mode 0600 and reused', async () => {
    const dir = tempDir();

    const first = await loadOrCreateSigningKey(dir);
    const second = await loadOrCreateSigningKey(dir);

    expect(second.kid).toBe(first.kid);
    expect(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('is the same key when several first uses race', async () => {
    const dir = tempDir();

    const keys = await Promise.all([1, 2, 3].map(() => loadOrCreateSigningKey(dir)));

    expect(new Set(keys.map((loaded) => loaded.kid)).size).toBe(1);
  });
});

describe('signLocalToken / verifyLocalToken', () => {
  it('round-trips a token shaped like a Cognito ID token', async () => {
    const token = await signLocalToken({ user: 'alice', permissions: ['HOST_MANAGER', 'TASK_VIEWER'] }, key);

    const claims = await verifyLocalToken(token, key);

    expect(claims).toMatchObject({
      'cognito:username': 'alice',
      'cognito:groups': ['HOST_MANAGER', 'TASK_VIEWER'],
      token_use: 'id',
      iss: LOCAL_ISSUER,
      aud: LOCAL_AUDIENCE,
    });
    expect(claims.sub).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(claims.exp! - claims.iat!).toBe(8 * 3600);
  });

  it('gives a user the same subject in every token', async () => {
    const first = await verifyLocalToken(await signLocalToken({ user: 'bob', permissions: [] }, key), key);
    const second = await verifyLocalToken(await signLocalToken({ user: 'bob', permissions: [] }, key), key);

    expect(second.sub).toBe(first.sub);
  });

  it('honours a shorter lifetime', async () => {
    const token = await signLocalToken({ user: 'alice', permissions: [], expiresIn: '1h' }, key);

    const claims = await verifyLocalToken(token, key);

    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('refuses to sign for a user or permission that would not survive claim flattening', async () => {
    await expect(signLocalToken({ user: 'two words', permissions: [] }, key)).rejects.toThrow();
    await expect(signLocalToken({ user: 'alice', permissions: ['A B'] }, key)).rejects.toThrow();
  });

  it('accepts client_id in place of a missing aud, as API Gateway does', async () => {
    const token = await forge({ aud: undefined, client_id: LOCAL_AUDIENCE });

    await expect(verifyLocalToken(token, key)).resolves.toMatchObject({ client_id: LOCAL_AUDIENCE });
  });

  const refusals: [string, () => Promise<string>][] = [
    ['an expired token', () => forge({ iat: now() - 7200, exp: now() - 3600 })],
    ['a token not yet valid (nbf in the future)', () => forge({ nbf: now() + 3600 })],
    ['a token issued in the future', () => forge({ iat: now() + 3600 })],
    ['a token without exp', () => forge({ exp: undefined })],
    [
      'a token from another issuer',
      () => forge({ iss: 'https://cognito-idp.us-east-1.amazonaws.com/other' }),
    ],
    ['a token for another audience', () => forge({ aud: 'another-client' })],
    ['a token for another client_id', () => forge({ aud: undefined, client_id: 'another-client' })],
    ['a token signed with another key', () => forge({}, otherKey)],
    [
      'a token naming another kid',
      () =>
        new SignJWT({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, exp: now() + 60 })
          .setProtectedHeader({ alg: 'RS256', kid: 'someone-else' })
          .sign(key.privateKey),
    ],
    [
      'an unsigned token (alg none)',
      async () => {
        const header = base64url.encode(JSON.stringify({ alg: 'none', kid: key.kid }));
        const payload = base64url.encode(
          JSON.stringify({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, exp: now() + 60, sub: 'x' }),
        );
        return `${header}.${payload}.`;
      },
    ],
    [
      'an HS256 token keyed with the public key bytes',
      async () => {
        const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
        return new SignJWT({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, exp: now() + 60, sub: 'x' })
          .setProtectedHeader({ alg: 'HS256', kid: key.kid })
          .sign(secret);
      },
    ],
    ['an empty string', async () => ''],
    ['a string that is not a JWT', async () => 'not-a-token'],
    ['three segments of garbage', async () => 'a.b.c'],
    [
      'a token with its payload tampered',
      async () => {
        const [header, , signature] = (await forge()).split('.');
        const payload = base64url.encode(
          JSON.stringify({ iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, exp: now() + 60 }),
        );
        return `${header}.${payload}.${signature}`;
      },
    ],
  ];

  it.each(refusals)('refuses %s', async (_, makeToken) => {
    const token = await makeToken();

    await expect(verifyLocalToken(token, key)).rejects.toBeInstanceOf(LocalTokenRejected);
  });
});

describe('token CLI', () => {
  it('prints exactly one JWT line that the local authorizer accepts', async () => {
    const dir = join(tempDir(), 'state');

    const { stdout } = await run(
      'npx',
      ['tsx', 'local/token-cli.ts', '--user', 'alice', '--permissions', 'HOST_MANAGER'],
      {
        env: { ...process.env, OCP_LOCAL_DIR: dir },
      },
    );

    expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const claims = await verifyLocalToken(stdout.trim(), await loadOrCreateSigningKey(dir));
    expect(claims).toMatchObject({ 'cognito:username': 'alice', 'cognito:groups': ['HOST_MANAGER'] });
    expect(statSync(join(dir, SIGNING_KEY_FILE)).mode & 0o777).toBe(0o600);
  });

  it('exits 1 with nothing on stdout when --user is missing', async () => {
    const dir = tempDir();

    const failure = run('npx', ['tsx', 'local/token-cli.ts', '--permissions', 'HOST_MANAGER'], {
      env: { ...process.env, OCP_LOCAL_DIR: dir },
    });

    await expect(failure).rejects.toMatchObject({ code: 1, stdout: '' });
  });
});
