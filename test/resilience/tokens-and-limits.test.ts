import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { exportJWK, importJWK, type JWK, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_ROUTES, type RouteId } from '../../functions/http/routes.ts';
import {
  LOCAL_AUDIENCE,
  LOCAL_ISSUER,
  type LocalSigningKey,
  loadOrCreateSigningKey,
  SIGNING_KEY_FILE,
} from '../../local/jwt.ts';
import type { LocalSystem } from '../../local/local-system.ts';
import { startTestSystem } from '../support/local-client.ts';
import { recordFigure } from './support/figures.ts';
import { type RawResponse, rawRequest } from './support/raw-http.ts';
import { snapshotTables, tableClient } from './support/tables.ts';

// The refusals must be logged: run this file's loggers (gateway and handler) at INFO.
vi.hoisted(() => {
  process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
});

/**
 * Hostile callers over real HTTP: every kind of bad token is refused with 401 (or 403 for a valid
 * identity without the permission) on every route, the refusal is logged without the token, and
 * oversized bodies and headers are refused before any work.
 */

let system: LocalSystem;
let client: DynamoDBClient;
let key: LocalSigningKey;

beforeAll(async () => {
  system = await startTestSystem({ demoHosts: 2, demoMode: 'fast' });
  client = tableClient(system);
  key = await loadOrCreateSigningKey(system.signingKeyDir);
});

afterAll(async () => {
  client?.destroy();
  await system?.stop();
});

const ROUTE_IDS = Object.keys(API_ROUTES) as RouteId[];
const ALL_PERMISSIONS = ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'];
/** For each route, a valid permission set that lacks what the route needs. */
const WITHOUT_PERMISSION: Record<RouteId, string[]> = {
  restartAgent: ['HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'],
  batchRestartAgents: ['HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'],
  getAgentStatus: ['TASK_MANAGER', 'TASK_VIEWER'],
  listHosts: ['TASK_MANAGER', 'TASK_VIEWER'],
  getHost: ['TASK_MANAGER', 'TASK_VIEWER'],
  getTask: ['HOST_MANAGER', 'HOST_VIEWER'],
  listTasks: ['HOST_MANAGER', 'HOST_VIEWER'],
  getSubtaskLog: ['HOST_MANAGER', 'HOST_VIEWER'],
  retryTask: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'],
  cancelTask: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'],
  rollbackTask: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'],
  skipSubtask: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'],
  cancelSubtask: ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_VIEWER'],
};

/** The route's path with ids that exist in no table: a refused caller must not learn even that. */
const pathOf = (route: RouteId) =>
  API_ROUTES[route].path.replace('{hostId}', '2').replace('{id}', '77').replace('{subtaskId}', '78');

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** Claims of a good token, to be varied by each case. */
function goodClaims(permissions: string[] = ALL_PERMISSIONS): JWTPayload & Record<string, unknown> {
  return {
    'cognito:username': 'mallory',
    'cognito:groups': permissions,
    sub: '5c1e2d3f-0000-5000-8000-000000000001',
    token_use: 'id',
    iss: LOCAL_ISSUER,
    aud: LOCAL_AUDIENCE,
    iat: now() - 10,
    exp: now() + 3600,
  };
}

/** Signs `claims` with local mode's real key (or `signingKey`), with a free choice of header. */
async function sign(
  claims: Record<string, unknown>,
  options: { alg?: string; kid?: string; signingKey?: Parameters<SignJWT['sign']>[0] } = {},
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: options.kid ?? key.kid, typ: 'JWT' })
    .sign(options.signingKey ?? key.privateKey);
}

/** Local mode's own private key, imported for another algorithm. */
async function ourKeyFor(alg: string) {
  const jwk = JSON.parse(readFileSync(join(system.signingKeyDir, SIGNING_KEY_FILE), 'utf8')) as JWK;
  return importJWK({ ...jwk, alg }, alg);
}

interface TokenCase {
  name: string;
  /** The Authorization header to send, or undefined for none. */
  authorization: (route: RouteId) => Promise<string | undefined>;
  status: 401 | 403;
}

const bearer = (token: string) => `Bearer ${token}`;

async function tokenCases(): Promise<TokenCase[]> {
  const good = await sign(goodClaims());
  const [header, payload, signature] = good.split('.') as [string, string, string];
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const otherPrivate = await importJWK({ ...(await exportJWK(otherKey.privateKey)), alg: 'RS256' }, 'RS256');
  const hmacWithPublicKey = new TextEncoder().encode(JSON.stringify(key.publicJwk));
  const withoutClaim = (name: string) => {
    const claims = goodClaims();
    delete claims[name];
    return claims;
  };
  const flipped = signature.slice(0, -2) + (signature.endsWith('AA') ? 'BB' : 'AA');
  const tampered = `${header}.${b64url({ ...goodClaims(['HOST_VIEWER']), 'cognito:groups': ALL_PERMISSIONS })}`;
  const viewerSignature = (await sign(goodClaims(['HOST_VIEWER']))).split('.')[2];

  const fixed = (status: 401 | 403, name: string, value: string | undefined): TokenCase => ({
    name,
    status,
    authorization: async () => value,
  });
  return [
    fixed(401, 'no Authorization header', undefined),
    fixed(401, 'an empty bearer', 'Bearer '),
    fixed(401, 'a bearer of spaces', 'Bearer     '),
    fixed(401, 'a malformed token (one word)', bearer('abc')),
    fixed(401, 'a malformed token (three empty parts)', bearer('..')),
    fixed(401, 'a malformed token (non-base64 parts)', bearer('a!b.c@d.e#f')),
    fixed(
      401,
      'a malformed token (header not JSON)',
      bearer(`${b64url('x').slice(1)}.${payload}.${signature}`),
    ),
    fixed(401, 'a token with an extra part', bearer(`${good}.extra`)),
    fixed(401, 'a JWE-shaped token (five parts)', bearer(`${header}.a.b.c.d`)),
    fixed(401, 'Basic credentials', 'Basic bWFsbG9yeTpwYXNzd29yZA=='),
    fixed(401, 'a wrong signature (bytes flipped)', bearer(`${header}.${payload}.${flipped}`)),
    fixed(
      401,
      'a signature by another key with our kid',
      bearer(await sign(goodClaims(), { signingKey: otherPrivate })),
    ),
    fixed(
      401,
      'alg none, unsigned',
      bearer(`${b64url({ alg: 'none', typ: 'JWT', kid: key.kid })}.${payload}.`),
    ),
    fixed(
      401,
      'alg none, with the real signature kept',
      bearer(`${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`),
    ),
    fixed(
      401,
      'HS256 keyed with the public key (algorithm confusion)',
      bearer(await sign(goodClaims(), { alg: 'HS256', signingKey: hmacWithPublicKey })),
    ),
    fixed(
      401,
      'RS512 instead of RS256 (our key)',
      bearer(await sign(goodClaims(), { alg: 'RS512', signingKey: await ourKeyFor('RS512') })),
    ),
    fixed(401, 'an unknown kid', bearer(await sign(goodClaims(), { kid: 'someone-elses-key' }))),
    fixed(401, 'expired', bearer(await sign({ ...goodClaims(), iat: now() - 7200, exp: now() - 3600 }))),
    fixed(401, 'not yet valid (nbf in an hour)', bearer(await sign({ ...goodClaims(), nbf: now() + 3600 }))),
    fixed(
      401,
      'issued in the future (iat in an hour)',
      bearer(await sign({ ...goodClaims(), iat: now() + 3600 })),
    ),
    fixed(401, 'no exp', bearer(await sign(withoutClaim('exp')))),
    fixed(401, 'a wrong issuer', bearer(await sign({ ...goodClaims(), iss: 'https://evil.example/issuer' }))),
    fixed(401, 'no issuer', bearer(await sign(withoutClaim('iss')))),
    fixed(401, 'a wrong audience', bearer(await sign({ ...goodClaims(), aud: 'another-app' }))),
    fixed(
      401,
      'no audience and a wrong client_id',
      bearer(await sign({ ...withoutClaim('aud'), client_id: 'another-app' })),
    ),
    fixed(
      401,
      'a tampered permissions claim (signature of the original)',
      bearer(`${tampered}.${viewerSignature}`),
    ),
    fixed(
      401,
      'a validly signed token naming no user',
      bearer(await sign({ ...withoutClaim('cognito:username'), sub: '' })),
    ),
    fixed(
      403,
      'a valid token without a permissions claim',
      bearer(await sign(withoutClaim('cognito:groups'))),
    ),
    fixed(
      403,
      'a valid token whose permissions claim is a number',
      bearer(await sign({ ...goodClaims(), 'cognito:groups': 7 })),
    ),
    {
      name: 'a valid token of a user without the permission',
      status: 403,
      authorization: async (route) => bearer(await sign(goodClaims(WITHOUT_PERMISSION[route]))),
    },
  ];
}

const LOG_SETTLE_MS = 5_000;

/**
 * Collects everything written to stdout and stderr (where Powertools' loggers write) while `work` runs,
 * and after it until `settled` holds of the output (at most LOG_SETTLE_MS): a function instance's lines
 * reach this process's stdout from its worker thread a moment after its answer.
 */
async function capturingOutput<T>(
  work: () => Promise<T>,
  settled: (output: string) => boolean = () => true,
): Promise<{ result: T; output: string }> {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const capture = (chunk: unknown, ...rest: unknown[]) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  try {
    const result = await work();
    for (const deadline = Date.now() + LOG_SETTLE_MS; !settled(chunks.join('')) && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return { result, output: chunks.join('') };
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
}

/** The parts of an Authorization header that must never be logged: the token and its segments. */
function secretsOf(authorization: string | undefined): string[] {
  const token = authorization?.replace(/^\w+\s+/, '').trim() ?? '';
  if (token.length < 8) return [];
  return [token, ...token.split('.').filter((part) => part.length >= 16)];
}

describe('tokens: every kind of bad token, on every route, over real HTTP', () => {
  it('is refused with 401 or 403 in the OCP envelope, logged with its reason and without the token', async () => {
    const cases = await tokenCases();
    const before = await snapshotTables(client, system);
    const attempts: {
      name: string;
      route: RouteId;
      authorization?: string;
      response: RawResponse;
      status: number;
    }[] = [];

    const { output } = await capturingOutput(
      async () => {
        for (const tokenCase of cases) {
          await Promise.all(
            ROUTE_IDS.map(async (route) => {
              const authorization = await tokenCase.authorization(route);
              const response = await rawRequest(system.apiUrl, {
                method: API_ROUTES[route].method,
                path: pathOf(route),
                headers: authorization === undefined ? {} : { authorization },
              });
              attempts.push({
                name: tokenCase.name,
                route,
                authorization,
                response,
                status: tokenCase.status,
              });
            }),
          );
        }
      },
      (output) =>
        attempts.every(({ response }) => output.includes(String(response.headers['apigw-requestid']))),
    );

    const wrong = attempts
      .filter(({ response, status }) => {
        const envelope = JSON.parse(response.body) as { status?: number; error?: { code?: number } };
        const code = status === 401 ? 30000 : 30014;
        return response.status !== status || envelope.status !== status || envelope.error?.code !== code;
      })
      .map(
        ({ name, route, response }) =>
          `${name} on ${route}: ${response.status} ${response.body.slice(0, 200)}`,
      );
    const logLines = output.split('\n');
    const unlogged = attempts
      .filter(({ response }) => {
        const requestId = String(response.headers['apigw-requestid']);
        return !logLines.some(
          (line) => line.includes(requestId) && /refused/i.test(line) && /"(reason|status)"/.test(line),
        );
      })
      .map(({ name, route }) => `${name} on ${route}`);
    const leaked = attempts
      .filter(({ authorization }) => secretsOf(authorization).some((secret) => output.includes(secret)))
      .map(({ name, route }) => `${name} on ${route}`);
    const after = await snapshotTables(client, system);

    const failed = new Set([...wrong, ...unlogged, ...leaked]);
    recordFigure({
      family: 'tokens',
      case: `${cases.length} token cases × ${ROUTE_IDS.length} routes`,
      tried: attempts.length,
      passed: attempts.length - failed.size,
      detail: `${attempts.filter((a) => a.status === 401).length} refused 401/30000, ${attempts.filter((a) => a.status === 403).length} refused 403/30014; each refusal found in the logs by its request id, no token or token part in ${logLines.length} log lines`,
    });
    expect(wrong).toEqual([]);
    expect(unlogged).toEqual([]);
    expect(leaked).toEqual([]);
    expect(after).toBe(before);
  });
});

describe('oversized requests are refused before any work', () => {
  const token = () => sign(goodClaims());
  let passed = 0;
  const passes = (cases: number) => {
    passed += cases;
  };
  afterAll(() => {
    recordFigure({
      family: 'limits',
      case: 'oversized bodies, headers and paths',
      tried: 7,
      passed,
      detail:
        '413 for a declared 11 MB body (answered before the body was sent) and a 12 MB chunked body; 431 for a 20 KB header, a 20 KB token, 3,000 headers and a 20 KB path; 400 for a 6 KB id; no record changed',
    });
  });

  it('answers 413 to a declared body over 10 MB without waiting for the body, and creates nothing', async () => {
    const before = await snapshotTables(client, system);
    const authorization = bearer(await token());
    // Declare 11 MB, send 1 KB, and wait: the answer must come without the rest of the body.
    const answer = await new Promise<string>((resolve, reject) => {
      const url = new URL(system.apiUrl);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /compute/hosts/2/agent/restart HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${authorization}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${11 * 1024 * 1024}\r\n\r\n${'{'.padEnd(1024, ' ')}`,
        );
      });
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString('utf8');
        if (received.includes('\r\n\r\n')) {
          socket.destroy();
          resolve(received);
        }
      });
      socket.on('error', reject);
      setTimeout(() => reject(new Error('no answer to an oversized body within 5 s')), 5_000).unref();
    });

    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(await snapshotTables(client, system)).toBe(before);
    passes(1);
  });

  it('answers 413 to a chunked body that grows past 10 MB, and creates nothing', async () => {
    const before = await snapshotTables(client, system);
    const authorization = bearer(await token());
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(system.apiUrl);
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          `POST /compute/hosts/2/agent/restart HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${authorization}\r\n` +
            'Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n',
        );
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const sendMore = (left: number) => {
          if (left === 0 || socket.destroyed) return;
          socket.write(`${chunk.length.toString(16)}\r\n`);
          socket.write(chunk);
          socket.write('\r\n', () => sendMore(left - 1));
        };
        sendMore(12);
      });
      let received = '';
      socket.on('data', (data) => {
        received += data.toString('utf8');
        const match = /^HTTP\/1\.1 (\d{3}) /.exec(received);
        if (match) {
          socket.destroy();
          resolve(Number(match[1]));
        }
      });
      socket.on('error', (error: NodeJS.ErrnoException) => {
        // The server may close while we still write: that is a refusal too, if it answered first.
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
      });
      setTimeout(() => reject(new Error('no answer to a 12 MB chunked body within 20 s')), 20_000).unref();
    });

    expect(status).toBe(413);
    expect(await snapshotTables(client, system)).toBe(before);
    passes(1);
  });

  it.each([
    ['one 20 KB header', { 'x-padding': 'p'.repeat(20 * 1024) }],
    ['a 20 KB bearer token', { authorization: `Bearer ${'e'.repeat(20 * 1024)}` }],
    ['3,000 small headers', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`x-h${i}`, 'v']))],
  ])('answers 431 to %s (Node’s header limit), and creates nothing', async (_, headers) => {
    const before = await snapshotTables(client, system);
    const { output, result } = await capturingOutput(() =>
      rawRequest(system.apiUrl, {
        method: 'POST',
        path: '/compute/hosts/2/agent/restart',
        headers: { ...headers, authorization: headers.authorization ?? `Bearer ${'x'}` },
      }).catch((error: unknown) => ({ status: -1, body: String(error), headers: {} }) as RawResponse),
    );

    expect(result.status).toBe(431);
    expect(output).not.toContain('e'.repeat(1024));
    expect(await snapshotTables(client, system)).toBe(before);
    passes(1);
  });

  it('answers 431 to a 20 KB path, and 400 to a 6 KB host id', async () => {
    const token = bearer(await sign(goodClaims()));
    const long = await rawRequest(system.apiUrl, {
      method: 'POST',
      path: `/compute/hosts/${'1'.repeat(20 * 1024)}/agent/restart`,
      headers: { authorization: token },
    });
    const wide = await rawRequest(system.apiUrl, {
      method: 'POST',
      path: `/compute/hosts/${'9'.repeat(6 * 1024)}/agent/restart`,
      headers: { authorization: token },
    });

    expect(long.status).toBe(431);
    expect([wide.status, JSON.parse(wide.body).error?.code]).toEqual([400, 10001]);
    passes(2);
  });
});
