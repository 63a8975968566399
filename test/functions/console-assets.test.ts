import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '#http/openapi';
import { routeKey, STATIC_ROUTES } from '#http/routes';
import { buildStaticAssets } from '../../console/static-assets.ts';
import { ENV } from '../../functions/catalog.ts';
import { apiEvent } from '../support/api-events.ts';

const dir = mkdtempSync(join(tmpdir(), 'console-assets-'));
const assetsDir = join(dir, 'assets');
let handler: typeof import('../../functions/console-assets.ts').handler;
const saved = { dir: process.env[ENV.consoleAssetsDir], config: process.env[ENV.consoleConfig] };

beforeAll(async () => {
  mkdirSync(assetsDir);
  await buildStaticAssets(assetsDir);
  // Not an asset name: never served, even though it is in the folder.
  writeFileSync(join(assetsDir, 'secret.txt'), 'no');
  process.env[ENV.consoleAssetsDir] = assetsDir;
  process.env[ENV.consoleConfig] = JSON.stringify({
    permissionsClaim: 'cognito:groups',
    loopbackSignIn: true,
  });
  ({ handler } = await import('../../functions/console-assets.ts'));
});

afterAll(() => {
  for (const [name, value] of [
    [ENV.consoleAssetsDir, saved.dir],
    [ENV.consoleConfig, saved.config],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A static route's event: no authorizer context, as API Gateway sends for a route without one. */
function staticEvent(
  route: { method: string; path: string },
  pathParameters?: Record<string, string>,
  headers = {},
) {
  const event = apiEvent({
    method: route.method,
    routePath: route.path,
    rawPath: route.path,
    pathParameters,
  });
  const { authorizer: _, ...requestContext } = event.requestContext;
  return { ...event, headers: { ...event.headers, ...headers }, requestContext } as typeof event;
}

describe('the consoleAssets function', () => {
  it('answers the console page at /console with the strict CSP', async () => {
    const result = await handler(staticEvent(STATIC_ROUTES.consolePage));
    expect(result).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'text/html; charset=utf-8' },
    });
    expect(result.headers?.['content-security-policy']).toContain("script-src 'self'");
    expect(result.body).toContain('<script type="module" src="/console/console.js"></script>');
    expect(result.body).not.toMatch(/<script>(?!<\/script>)|style="/);
  });

  it('answers the committed OpenAPI document at /openapi.json to a caller without identity', async () => {
    const result = await handler(staticEvent(STATIC_ROUTES.openApi));
    expect(result).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(result.body ?? '')).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });

  it('answers the script and the config the page signs in with', async () => {
    const script = await handler(staticEvent(STATIC_ROUTES.consoleAsset, { asset: 'console.js' }));
    expect(script).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'text/javascript; charset=utf-8' },
    });
    const config = await handler(staticEvent(STATIC_ROUTES.consoleAsset, { asset: 'config.json' }));
    expect(JSON.parse(config.body ?? '')).toEqual({
      permissionsClaim: 'cognito:groups',
      loopbackSignIn: true,
    });
  });

  it('answers 304 to a browser that has the file already', async () => {
    const first = await handler(staticEvent(STATIC_ROUTES.consoleAsset, { asset: 'console.css' }));
    const etag = first.headers?.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await handler(
      staticEvent(STATIC_ROUTES.consoleAsset, { asset: 'console.css' }, { 'if-none-match': etag }),
    );
    expect(again).toMatchObject({ statusCode: 304 });
    expect(again.body).toBeUndefined();
  });

  it.each(['secret.txt', 'missing.js', '..%2Fopenapi.json', 'index.html'])(
    'answers 404 in the OCP envelope for /console/%s',
    async (asset) => {
      const result = await handler(staticEvent(STATIC_ROUTES.consoleAsset, { asset }));
      expect(result.statusCode).toBe(404);
      expect(JSON.parse(result.body ?? '')).toMatchObject({
        successful: false,
        status: 404,
        error: { code: 10002 },
      });
    },
  );

  it('answers 404 for a route it does not serve', async () => {
    const result = await handler(staticEvent({ method: 'GET', path: '/console/x/y' }));
    expect(result.statusCode).toBe(404);
    expect(routeKey(STATIC_ROUTES.consolePage)).toBe('GET /console');
  });
});
