import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_SIGN_IN_PATH } from '#core/console';
import type { ExtraRouteRequest } from '#local/api-gateway';
import { loopbackSignInRoute } from '#local/console-sign-in';
import { type LocalSigningKey, loadOrCreateSigningKey, verifyLocalToken } from '#local/jwt';

const dir = mkdtempSync(join(tmpdir(), 'console-sign-in-'));
let key: LocalSigningKey;

beforeAll(async () => {
  key = await loadOrCreateSigningKey(dir);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function signIn(request: Partial<ExtraRouteRequest> & { headers?: ExtraRouteRequest['headers'] } = {}) {
  return loopbackSignInRoute(key).handle({
    remoteAddress: '127.0.0.1',
    body: Buffer.alloc(0),
    ...request,
    headers: { host: '127.0.0.1:8080', 'content-type': 'application/json', ...request.headers },
  });
}

describe(`POST ${LOCAL_SIGN_IN_PATH}`, () => {
  it('gives a loopback caller a token with every permission, which the local authorizer accepts', async () => {
    const result = await signIn({ headers: { origin: 'http://127.0.0.1:8080' } });
    expect(result).toMatchObject({ statusCode: 200, headers: { 'cache-control': 'no-store' } });
    const answer = JSON.parse(result.body ?? '') as { token: string; expiresAt: string };
    const claims = await verifyLocalToken(answer.token, key);
    expect(claims['cognito:username']).toBe('local-operator');
    expect(claims['cognito:groups']).toEqual(['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER']);
    expect(Date.parse(answer.expiresAt)).toBeGreaterThan(Date.now());
  });

  it('signs in the user and permissions asked for', async () => {
    const result = await signIn({ body: Buffer.from('{"user":"victor","permissions":["TASK_VIEWER"]}') });
    const { token } = JSON.parse(result.body ?? '') as { token: string };
    const claims = await verifyLocalToken(token, key);
    expect(claims).toMatchObject({ 'cognito:username': 'victor', 'cognito:groups': ['TASK_VIEWER'] });
  });

  it.each([
    ['a caller at another address', { remoteAddress: '192.168.1.20' }, 403, /loopback/],
    ['a name rebound to loopback', { headers: { host: 'evil.example:8080' } }, 403, /loopback/],
    ['another site’s page', { headers: { origin: 'https://evil.example' } }, 403, /evil\.example/],
    ['a form post (no JSON content type)', { headers: { 'content-type': 'text/plain' } }, 400, /JSON body/],
    ['a body that is not JSON', { body: Buffer.from('{') }, 400, /not JSON/],
    ['an unknown permission', { body: Buffer.from('{"permissions":["ROOT"]}') }, 400, /permissions must/],
    ['a bad user name', { body: Buffer.from('{"user":"a b"}') }, 400, /user must/],
  ] as const)('refuses %s, in the OCP envelope and without a token', async (_, request, status, message) => {
    const result = await signIn(request as Partial<ExtraRouteRequest>);
    expect(result.statusCode).toBe(status);
    const envelope = JSON.parse(result.body ?? '') as {
      successful: boolean;
      error: { message: string };
      token?: string;
    };
    expect(envelope.successful).toBe(false);
    expect(envelope.error.message).toMatch(message);
    expect(envelope.token).toBeUndefined();
  });

  it('accepts IPv6 loopback and localhost', async () => {
    expect((await signIn({ remoteAddress: '::1', headers: { host: '[::1]:8080' } })).statusCode).toBe(200);
    expect((await signIn({ headers: { host: 'localhost:8080' } })).statusCode).toBe(200);
  });
});
