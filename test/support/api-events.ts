import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';

/** An HTTP API (payload v2) event as API Gateway's JWT authorizer hands it to the function. */
export function apiEvent(options: {
  method: string;
  routePath: string;
  rawPath: string;
  pathParameters?: Record<string, string>;
  claims?: Record<string, string> | null;
  body?: string;
}): APIGatewayProxyEventV2WithJWTAuthorizer {
  const claims = options.claims === null ? undefined : (options.claims ?? {});
  return {
    version: '2.0',
    routeKey: `${options.method} ${options.routePath}`,
    rawPath: options.rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: options.pathParameters,
    body: options.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: options.method,
        path: options.rawPath,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'request-1',
      routeKey: `${options.method} ${options.routePath}`,
      stage: '$default',
      time: '',
      timeEpoch: Date.now(),
      authorizer: { principalId: '', integrationLatency: 0, jwt: { claims: claims ?? {}, scopes: [] } },
    },
  } as APIGatewayProxyEventV2WithJWTAuthorizer;
}

export const operator = (permissions: string) => ({
  sub: 'u-1',
  'cognito:username': 'alice',
  'cognito:groups': `[${permissions}]`,
});
