import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { API_ROUTES, OPENAPI_ROUTE } from '#http/routes';
import { type LocalApiGateway, PING_ROUTE, startApiGateway } from '#local/api-gateway';
import { type LocalSigningKey, loadOrCreateSigningKey, signLocalToken, verifyLocalToken } from '#local/jwt';

const MAX_BODY_BYTES = 64 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'local-apigw-'));
const events: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
let respond: (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<APIGatewayProxyStructuredResultV2>;
let gateway: LocalApiGateway;
let key: LocalSigningKey;
let token: string;

const echo = async (event: APIGatewayProxyEventV2WithJWTAuthorizer) => ({
  statusCode: 200,
  headers: { 'Content-Type': 'application/json', 'X-Echo': 'yes' },
  cookies: ['session=abc; HttpOnly'],
  body: JSON.stringify({ routeKey: event.routeKey }),
});

beforeAll(async () => {
  key = await loadOrCreateSigningKey(dir);
  token = await signLocalToken({ user: 'alice', permissions: ['HOST_MANAGER', 'TASK_VIEWER'] }, key);
  gateway = await startApiGateway({
    port: 0,
    handler: (event) => {
      events.push(event);
      return respond(event);
    },
    verifyToken: (candidate) => verifyLocalToken(candidate, key),
    routes: API_ROUTES,
    publicRoutes: [OPENAPI_ROUTE],
    extraRoutes: [PING_ROUTE],
    maxBodyBytes: MAX_BODY_BYTES,
  });
});

beforeEach(() => {
  events.length = 0;
  respond = echo;
});

afterAll(async () => {
  await gateway?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A request through node:http, which can send duplicate headers and declare a length it never sends. */
function call(
  method: string,
  path: string,
  options: { headers?: Record<string, string | string[]>; body?: string | Buffer; chunks?: Buffer[] } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${gateway.url}${path}`, { method, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        });
        req.destroy();
      });
      res.on('error', reject);
    });
    // The gateway may close the connection while a refused body is still being sent.
    req.on('error', (error) => reject(error));
    if (options.chunks) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else if (options.body !== undefined) {
      req.end(options.body);
    } else if (!options.headers?.['content-length']) {
      req.end();
    } else {
      req.write('x'.repeat(1024));
    }
  });
}

const bearer = (value = token) => ({ authorization: `Bearer ${value}` });

describe('local API gateway', () => {
  it('builds the HTTP API payload v2 event with flattened JWT claims', async () => {
    const response = await call('POST', '/compute/hosts/42/agent/restart?verbose=1&tag=a&tag=b%20c', {
      headers: {
        ...bearer(),
        'Content-Type': 'application/json',
        'X-Repeated': ['one', 'two'],
        Cookie: 'c1=v1; c2=v2',
        'User-Agent': 'vitest',
      },
      body: '{"prohibitRollback":true}',
    });

    expect(response.status).toBe(200);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /compute/hosts/{hostId}/agent/restart',
      rawPath: '/compute/hosts/42/agent/restart',
      rawQueryString: 'verbose=1&tag=a&tag=b%20c',
      queryStringParameters: { verbose: '1', tag: 'a,b c' },
      pathParameters: { hostId: '42' },
      cookies: ['c1=v1', 'c2=v2'],
      body: '{"prohibitRollback":true}',
      isBase64Encoded: false,
      requestContext: {
        routeKey: 'POST /compute/hosts/{hostId}/agent/restart',
        stage: '$default',
        http: {
          method: 'POST',
          path: '/compute/hosts/42/agent/restart',
          protocol: 'HTTP/1.1',
          userAgent: 'vitest',
        },
        authorizer: { jwt: { scopes: null } },
      },
    });
    expect(event.headers).toMatchObject({
      'content-type': 'application/json',
      'x-repeated': 'one,two',
      'user-agent': 'vitest',
      'x-forwarded-proto': 'http',
    });
    expect(Object.keys(event.headers).every((name) => name === name.toLowerCase())).toBe(true);
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(event.requestContext.time).toMatch(/^\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    expect(typeof event.requestContext.timeEpoch).toBe('number');
    const claims = event.requestContext.authorizer.jwt.claims;
    expect(claims).toMatchObject({
      'cognito:username': 'alice',
      'cognito:groups': '[HOST_MANAGER TASK_VIEWER]',
      token_use: 'id',
    });
    expect(claims.exp).toMatch(/^\d+$/);
  });

  it('URL-decodes path parameters', async () => {
    await call('GET', '/api/v2/tasks/instances/a%2Fb%20c', { headers: bearer() });

    expect(events[0]?.pathParameters).toEqual({ id: 'a/b c' });
    expect(events[0]?.rawPath).toBe('/api/v2/tasks/instances/a%2Fb%20c');
    expect(events[0]?.queryStringParameters).toBeUndefined();
    expect(events[0]?.body).toBeUndefined();
  });

  it('passes a binary body base64-encoded', async () => {
    const bytes = Buffer.from([0, 1, 2, 254, 255]);

    await call('POST', '/compute/hosts/1/agent/restart', {
      headers: { ...bearer(), 'content-type': 'application/octet-stream' },
      body: bytes,
    });

    expect(events[0]).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
  });

  it("writes the handler's structured result", async () => {
    const response = await call('GET', '/compute/hosts/1/agent', { headers: bearer() });

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ routeKey: 'GET /compute/hosts/{hostId}/agent' });
    expect(response.headers).toMatchObject({
      'content-type': 'application/json',
      'x-echo': 'yes',
      'set-cookie': ['session=abc; HttpOnly'],
    });
    expect(response.headers['apigw-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers 401 with an OCP error envelope when the token is missing', async () => {
    const response = await call('GET', '/compute/hosts/1/agent');

    expect(response.status).toBe(401);
    expect(JSON.parse(response.body)).toMatchObject({
      successful: false,
      status: 401,
      error: { code: 30000 },
    });
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(events).toHaveLength(0);
  });

  it('answers 401 with an OCP error envelope when the token is invalid or expired', async () => {
    const expired = await signLocalToken(
      { user: 'alice', permissions: ['HOST_MANAGER'], expiresIn: -60 },
      key,
    );

    const garbage = await call('GET', '/compute/hosts/1/agent', { headers: bearer('not.a.jwt') });
    const late = await call('GET', '/compute/hosts/1/agent', { headers: bearer(expired) });

    for (const response of [garbage, late]) {
      expect(response.status).toBe(401);
      expect(JSON.parse(response.body)).toMatchObject({ successful: false, error: { code: 30000 } });
    }
    expect(events).toHaveLength(0);
  });

  it('accepts the bare token as the identity source, as API Gateway does', async () => {
    const response = await call('GET', '/compute/hosts/1/agent', { headers: { authorization: token } });

    expect(response.status).toBe(200);
  });

  it('answers 404 Not Found for a path or method without a route', async () => {
    const unknownPath = await call('GET', '/compute/hosts', { headers: bearer() });
    const unknownMethod = await call('DELETE', '/compute/hosts/1/agent', { headers: bearer() });

    for (const response of [unknownPath, unknownMethod]) {
      expect(response.status).toBe(404);
      expect(JSON.parse(response.body)).toEqual({ message: 'Not Found' });
    }
    expect(events).toHaveLength(0);
  });

  it('answers 413 for a declared length over the limit without reading the body', async () => {
    const response = await call('POST', '/compute/hosts/1/agent/restart', {
      headers: {
        ...bearer(),
        'content-type': 'application/json',
        'content-length': String(MAX_BODY_BYTES + 1),
      },
    });

    expect(response.status).toBe(413);
    expect(JSON.parse(response.body)).toEqual({ message: 'Request Entity Too Large' });
    expect(events).toHaveLength(0);
  });

  it('answers 413 for a chunked body that grows over the limit', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'a');

    const response = await call('POST', '/compute/hosts/1/agent/restart', {
      headers: { ...bearer(), 'content-type': 'application/json' },
      chunks: [chunk, chunk, chunk, chunk, chunk],
    });

    expect(response.status).toBe(413);
    expect(events).toHaveLength(0);
  });

  it('answers 500 like API Gateway when the integration fails', async () => {
    respond = async () => {
      throw new Error('boom');
    };

    const response = await call('GET', '/compute/hosts/1/agent', { headers: bearer() });

    expect(response.status).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ message: 'Internal Server Error' });
  });

  it('serves the extra ping route without a token', async () => {
    const response = await call('GET', '/ping');

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ ok: true });
  });

  it('invokes the handler for a public route without a token, and without an authorizer context', async () => {
    const response = await call('GET', '/openapi.json', { headers: { authorization: 'Bearer not-a-token' } });

    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ routeKey: 'GET /openapi.json' });
    expect(events).toHaveLength(1);
    expect(events[0]?.requestContext).not.toHaveProperty('authorizer');
  });

  it('handles hundreds of concurrent requests over keep-alive connections', async () => {
    const responses = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        fetch(`${gateway.url}/compute/hosts/${index}/agent`, { headers: bearer() }),
      ),
    );

    expect(responses.map((response) => response.status)).toEqual(responses.map(() => 200));
    await Promise.all(responses.map((response) => response.text()));
    expect(new Set(events.map((event) => event.pathParameters?.hostId)).size).toBe(300);
  });
});
