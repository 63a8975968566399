import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  CONSOLE_CONFIG_ASSET,
  type ConsoleConfig,
  consoleHeaders,
  contentTypeOf,
  isAssetName,
  isBinaryAsset,
  parseConsoleConfig,
} from '#core/console';
import { errorEnvelope } from '#core/envelope';
import { RouteNotFound } from '#core/errors';
import { newRequestScope } from '#http/request-scope';
import { routeKey, STATIC_ROUTES } from '#http/routes';
import { ENV } from './catalog.ts';
import { loggedInvocation } from './logger.ts';
import { consoleAssetsDir } from './runtime-config.ts';

interface Asset {
  body: Buffer;
  etag: string;
}

const CONSOLE_PAGE = 'index.html';
const OPENAPI_DOCUMENT = 'openapi.json';

let loaded: { config: ConsoleConfig; assets: Map<string, Asset> } | undefined;

/** Read once per instance: the files of the bundle do not change while it runs. */
function load() {
  if (loaded) return loaded;
  const config = parseConsoleConfig(process.env[ENV.consoleConfig]);
  const dir = consoleAssetsDir();
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    if (isAssetName(name)) assets.set(name, asset(readFileSync(join(dir, name))));
  }
  assets.set(CONSOLE_CONFIG_ASSET, asset(Buffer.from(JSON.stringify(config))));
  loaded = { config, assets };
  return loaded;
}

function asset(body: Buffer): Asset {
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** The file a static route names, by its route key and path parameters. */
function assetNameOf(event: APIGatewayProxyEventV2): string | undefined {
  switch (event.routeKey) {
    case routeKey(STATIC_ROUTES.consolePage):
      return CONSOLE_PAGE;
    case routeKey(STATIC_ROUTES.openApi):
      return OPENAPI_DOCUMENT;
    case routeKey(STATIC_ROUTES.consoleAsset): {
      const name = event.pathParameters?.asset ?? '';
      // The page is served at /console only, so that one URL is the Cognito redirect and the bookmark.
      return isAssetName(name) && name !== CONSOLE_PAGE ? name : undefined;
    }
    default:
      return undefined;
  }
}

/** GET /console, /console/{asset}, /openapi.json: the built files, with the console's security headers. */
export const handler = loggedInvocation(
  async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const { config, assets } = load();
    const name = assetNameOf(event);
    const found = name === undefined ? undefined : assets.get(name);
    if (!name || !found) {
      const envelope = errorEnvelope(
        newRequestScope(),
        new RouteNotFound(event.requestContext?.http?.method ?? 'GET', event.rawPath ?? '?'),
      );
      return {
        statusCode: envelope.status,
        headers: consoleHeaders(config, 'application/json'),
        body: JSON.stringify(envelope),
      };
    }
    const headers = { ...consoleHeaders(config, contentTypeOf(name)), etag: found.etag };
    if (event.headers?.['if-none-match'] === found.etag) return { statusCode: 304, headers };
    const binary = isBinaryAsset(name);
    return {
      statusCode: 200,
      headers,
      body: binary ? found.body.toString('base64') : found.body.toString('utf8'),
      isBase64Encoded: binary,
    };
  },
);
