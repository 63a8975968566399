import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorEnvelope } from '#core/envelope';
import { NotAuthenticated } from '#core/errors';
import { newRequestScope } from '#http/request-scope';
import { JsonLogger } from '../functions/json-logger.ts';

/** A route of the HTTP API: method and path template (`{name}` captures one segment). */
export interface RouteDefinition {
  method: string;
  path: string;
}

/** What a local-only route sees of its request. */
export interface ExtraRouteRequest {
  headers: IncomingMessage['headers'];
  /** The caller's address as the socket has it (`::ffff:` stripped). */
  remoteAddress: string;
  body: Buffer;
}

/**
 * A route of local mode only, answered directly, without authorizer or integration (a benchmark's
 * `GET /ping`, the console's loopback sign-in).
 */
export interface ExtraRoute extends RouteDefinition {
  handle: (
    request: ExtraRouteRequest,
  ) => APIGatewayProxyStructuredResultV2 | Promise<APIGatewayProxyStructuredResultV2>;
}

export type Integration = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** A route without the authorizer (the handler gets no identity), optionally with its own integration. */
export interface PublicRoute extends RouteDefinition {
  /** @default the gateway's handler */
  handler?: Integration;
}

export interface ApiGatewayOptions {
  /** 0 picks a free port. */
  port: number;
  host?: string;
  handler: Integration;
  /** Returns the verified claims, or throws: the JWT authorizer. */
  verifyToken: (token: string) => Promise<Record<string, unknown>>;
  routes: Readonly<Record<string, RouteDefinition>> | readonly RouteDefinition[];
  /** Routes without the authorizer, as the stack's OpenAPI and console routes. */
  publicRoutes?: readonly PublicRoute[];
  extraRoutes?: readonly ExtraRoute[];
  /** API Gateway's payload limit: 10 MB. */
  maxBodyBytes?: number;
  /** API Gateway's integration timeout: 30 s. */
  integrationTimeoutMs?: number;
  accountId?: string;
  apiId?: string;
}

export interface LocalApiGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The trivial unauthenticated route benchmarks use to measure the gateway alone. */
export const PING_ROUTE: ExtraRoute = {
  method: 'GET',
  path: '/ping',
  handle: () => ({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }),
};

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_INTEGRATION_TIMEOUT_MS = 30_000;
const logger = new JsonLogger({ serviceName: 'ocp-agent-restart-local-api' });

interface CompiledRoute {
  routeKey: string;
  method: string;
  pattern: RegExp;
  names: string[];
  extra?: ExtraRoute;
  public?: boolean;
  handler?: Integration;
}

class GatewayReply extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${statusCode}`);
  }
}

const notFound = () => new GatewayReply(404, '{"message":"Not Found"}');
const tooLarge = () =>
  new GatewayReply(413, '{"message":"Request Entity Too Large"}', { connection: 'close' });

/**
 * An HTTP API with a JWT authorizer on 127.0.0.1: matches routes, verifies the bearer token, and
 * invokes the handler with the payload v2 event API Gateway would build.
 */
export async function startApiGateway(options: ApiGatewayOptions): Promise<LocalApiGateway> {
  const routes = [
    ...(options.extraRoutes ?? []).map((route) => compileRoute(route, route)),
    ...(options.publicRoutes ?? []).map((route) => ({
      ...compileRoute(route),
      public: true,
      ...(route.handler ? { handler: route.handler } : {}),
    })),
    ...(Array.isArray(options.routes) ? options.routes : Object.values(options.routes)).map((route) =>
      compileRoute(route),
    ),
  ];
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const integrationTimeoutMs = options.integrationTimeoutMs ?? DEFAULT_INTEGRATION_TIMEOUT_MS;
  const accountId = options.accountId ?? '000000000000';
  const apiId = options.apiId ?? 'local';

  const server = createServer({ keepAlive: true }, (req, res) => {
    const requestId = randomUUID();
    serve(req, res, requestId).catch((error: unknown) => {
      if (error instanceof GatewayReply) {
        reply(res, requestId, error.statusCode, error.body, error.headers);
      } else {
        logger.error('Local API gateway failed a request', { requestId, error });
        reply(res, requestId, 500, '{"message":"Internal Server Error"}');
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  async function serve(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const declaredLength = Number(req.headers['content-length'] ?? 0);
    if (declaredLength > maxBodyBytes) throw tooLarge();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const rawPath = queryAt < 0 ? url : url.slice(0, queryAt);
    const rawQueryString = queryAt < 0 ? '' : url.slice(queryAt + 1);
    const method = req.method ?? 'GET';
    const match = matchRoute(routes, method, rawPath);
    if (!match) throw notFound();
    if (match.route.extra) {
      const result = await match.route.extra.handle({
        headers: req.headers,
        remoteAddress: sourceIpOf(req),
        body: await readBody(req, maxBodyBytes),
      });
      writeResult(res, requestId, result);
      return;
    }

    const claims = match.route.public ? undefined : await authorize(req, requestId, method, rawPath);
    const body = await readBody(req, maxBodyBytes);
    const event = buildEvent({
      req,
      requestId,
      routeKey: match.route.routeKey,
      rawPath,
      rawQueryString,
      pathParameters: match.parameters,
      claims,
      body,
      accountId,
      apiId,
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new GatewayReply(503, '{"message":"Service Unavailable"}')),
        integrationTimeoutMs,
      );
    });
    try {
      const integration = match.route.handler ?? options.handler;
      const result = await Promise.race([integration(event), timeout]);
      writeResult(res, requestId, result);
    } finally {
      clearTimeout(timer);
    }
  }

  async function authorize(
    req: IncomingMessage,
    requestId: string,
    method: string,
    path: string,
  ): Promise<Record<string, unknown>> {
    const header = req.headers.authorization ?? '';
    // API Gateway takes the identity source as the bare token or "Bearer <token>".
    const token = header.replace(/^Bearer\s+/i, '').trim();
    let reason = 'no token in the Authorization header';
    if (token) {
      try {
        return await options.verifyToken(token);
      } catch (error) {
        reason = error instanceof Error ? error.message : 'invalid token';
      }
    }
    logger.info('Local API gateway refused a request', { requestId, method, path, reason });
    const envelope = errorEnvelope(newRequestScope(), new NotAuthenticated());
    throw new GatewayReply(401, JSON.stringify(envelope), {
      'www-authenticate': token ? 'Bearer error="invalid_token"' : 'Bearer',
      'x-ocp-trace-id': envelope.traceId,
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** API Gateway's rendering of JWT claims for the integration: every value becomes a string. */
export function flattenClaims(claims: Record<string, unknown>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (value !== undefined && value !== null) flat[name] = flattenClaim(value);
  }
  return flat;
}

function flattenClaim(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return `[${value.map(flattenClaim).join(' ')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([key, item]) => `${key}:${flattenClaim(item)}`).join(' ')}]`;
  }
  return String(value);
}

function compileRoute(route: RouteDefinition, extra?: ExtraRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)(\+?)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(parameter[1]!);
      return parameter[2] ? '(.+)' : '([^/]+)';
    })
    .join('/');
  return {
    routeKey: `${route.method} ${route.path}`,
    method: route.method.toUpperCase(),
    pattern: new RegExp(`^${source}$`),
    names,
    ...(extra ? { extra } : {}),
  };
}

function matchRoute(
  routes: readonly CompiledRoute[],
  method: string,
  rawPath: string,
): { route: CompiledRoute; parameters: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.method !== 'ANY' && route.method !== method) continue;
    const match = route.pattern.exec(rawPath);
    if (!match) continue;
    const parameters: Record<string, string> = {};
    route.names.forEach((name, index) => {
      parameters[name] = safeDecode(match[index + 1]!);
    });
    return { route, parameters };
  }
  return undefined;
}

/** Reads the body, refusing it as soon as it passes the limit. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

function buildEvent(input: {
  req: IncomingMessage;
  requestId: string;
  routeKey: string;
  rawPath: string;
  rawQueryString: string;
  pathParameters: Record<string, string>;
  /** Undefined on a route without the authorizer. */
  claims: Record<string, unknown> | undefined;
  body: Buffer;
  accountId: string;
  apiId: string;
}): APIGatewayProxyEventV2WithJWTAuthorizer {
  const { req } = input;
  const now = new Date();
  const sourceIp = sourceIpOf(req);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (let index = 0; index + 1 < req.rawHeaders.length; index += 2) {
    const name = req.rawHeaders[index]!.toLowerCase();
    const value = req.rawHeaders[index + 1]!;
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(/;\s*/).filter((cookie) => cookie.length > 0)];
      continue;
    }
    headers[name] = name in headers ? `${headers[name]},${value}` : value;
  }
  headers['x-forwarded-for'] ??= sourceIp;
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-amzn-trace-id'] ??=
    `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(input.rawQueryString)) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }
  const host = headers.host ?? '127.0.0.1';
  const domainName = host.replace(/:\d+$/, '');
  const hasBody = input.body.length > 0;
  const binary = hasBody && !isTextContent(headers['content-type']);

  return {
    version: '2.0',
    routeKey: input.routeKey,
    rawPath: input.rawPath,
    rawQueryString: input.rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: input.accountId,
      apiId: input.apiId,
      // API Gateway sends no authorizer context for a route without an authorizer (hence the cast).
      ...(input.claims
        ? {
            authorizer: {
              principalId: '',
              integrationLatency: 0,
              jwt: { claims: flattenClaims(input.claims), scopes: scopesOf(input.claims) },
            },
          }
        : {}),
      domainName,
      domainPrefix: domainName.split('.')[0] ?? domainName,
      http: {
        method: req.method ?? 'GET',
        path: input.rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: input.requestId,
      routeKey: input.routeKey,
      stage: '$default',
      time: clfTime(now),
      timeEpoch: now.getTime(),
    } as APIGatewayProxyEventV2WithJWTAuthorizer['requestContext'],
    ...(Object.keys(input.pathParameters).length > 0 ? { pathParameters: input.pathParameters } : {}),
    ...(hasBody ? { body: input.body.toString(binary ? 'base64' : 'utf8') } : {}),
    isBase64Encoded: binary,
  };
}

function writeResult(
  res: ServerResponse,
  requestId: string,
  result: APIGatewayProxyStructuredResultV2,
): void {
  if (typeof result !== 'object' || result === null) {
    throw new Error('The integration returned no structured result');
  }
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  reply(res, requestId, result.statusCode ?? 200, body, headers);
}

function reply(
  res: ServerResponse,
  requestId: string,
  statusCode: number,
  body: string | Buffer,
  headers: Record<string, string | string[]> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(statusCode, {
    'content-type': 'application/json',
    ...headers,
    'content-length': String(payload.length),
    'apigw-requestid': requestId,
  });
  res.end(payload);
}

function sourceIpOf(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
}

/** Content types API Gateway passes as text; anything else reaches the integration base64-encoded. */
function isTextContent(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    /^application\/([\w.+-]+\+)?(json|xml)$/.test(type) ||
    type === 'application/javascript'
  );
}

function scopesOf(claims: Record<string, unknown>): string[] | null {
  const value = claims.scope ?? claims.scp;
  if (typeof value === 'string') return value.split(' ').filter((scope) => scope.length > 0);
  if (Array.isArray(value)) return value.filter((scope): scope is string => typeof scope === 'string');
  return null;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's `requestContext.time`: "12/Mar/2020:19:03:58 +0000". */
function clfTime(date: Date): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}
