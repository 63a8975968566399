/**
 * The web console's static answers: what the page is told at sign-in (its config), the files it may
 * load, and the headers every one of them carries. Shared by the consoleAssets function, the stack and
 * local mode; the front end imports the config's type.
 */

/** How the console signs an operator in, and where it finds the permissions in a token. */
export interface ConsoleConfig {
  /** JWT claim listing the caller's OCP permissions, e.g. "cognito:groups". */
  permissionsClaim: string;
  /** Local mode only: POST /console/local-sign-in answers loopback callers with a token. */
  loopbackSignIn: boolean;
  /** The stack's Cognito hosted login: authorization code with PKCE, a public client. */
  cognito?: CognitoSignIn;
}

export interface CognitoSignIn {
  authorizeEndpoint: string;
  tokenEndpoint: string;
  clientId: string;
  redirectUri: string;
  scopes: string[];
}

/** The console's own configuration answer, besides the built files. */
export const CONSOLE_CONFIG_ASSET = 'config.json';
/** Where the page reads it (a GET /console/{asset} route). */
export const CONSOLE_CONFIG_PATH = `/console/${CONSOLE_CONFIG_ASSET}`;
/** Local mode's one-click sign-in, which the stack does not have (it signs in through Cognito). */
export const LOCAL_SIGN_IN_PATH = '/console/local-sign-in';

/** Files the console serves: one path segment, a known extension (anything else is not looked up). */
const ASSET_NAME = /^[a-z0-9][a-z0-9._-]{0,63}\.(html|js|css|json|png|svg|ico|map)$/;

const CONTENT_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  map: 'application/json',
  png: 'image/png',
  svg: 'image/svg+xml',
  ico: 'image/x-icon',
};

export function isAssetName(name: string): boolean {
  return ASSET_NAME.test(name) && !name.includes('..');
}

export function contentTypeOf(name: string): string {
  return CONTENT_TYPES[name.slice(name.lastIndexOf('.') + 1)] ?? 'application/octet-stream';
}

/** Text assets travel as text; images base64-encoded, as API Gateway's payload v2 wants binary. */
export function isBinaryAsset(name: string): boolean {
  return /\.(png|ico)$/.test(name);
}

/**
 * The console's Content-Security-Policy: scripts and styles only from the product's own origin (no
 * inline code, no eval), requests only to the API and, with Cognito, its token endpoint; nothing may
 * frame the page, and no form posts anywhere.
 */
export function contentSecurityPolicy(config: ConsoleConfig): string {
  const connect = ["'self'", ...(config.cognito ? [originOf(config.cognito.tokenEndpoint)] : [])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers of every console answer, and of the OpenAPI document. */
export function consoleHeaders(config: ConsoleConfig, contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': contentSecurityPolicy(config),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    // Files are not content-hashed: browsers revalidate with the ETag on every load.
    'cache-control': 'no-cache',
  };
}

/** Reads the config the stack or local mode hands the function; a broken one is a deployment error. */
export function parseConsoleConfig(text: string | undefined): ConsoleConfig {
  const value: unknown = JSON.parse(text ?? '');
  if (
    !isRecord(value) ||
    typeof value.permissionsClaim !== 'string' ||
    typeof value.loopbackSignIn !== 'boolean'
  ) {
    throw new Error('The console config needs permissionsClaim (string) and loopbackSignIn (boolean)');
  }
  const config: ConsoleConfig = {
    permissionsClaim: value.permissionsClaim,
    loopbackSignIn: value.loopbackSignIn,
  };
  if (value.cognito !== undefined) config.cognito = parseCognito(value.cognito);
  return config;
}

function parseCognito(value: unknown): CognitoSignIn {
  const fields = ['authorizeEndpoint', 'tokenEndpoint', 'clientId', 'redirectUri'] as const;
  if (
    !isRecord(value) ||
    fields.some((field) => typeof value[field] !== 'string') ||
    !isStringList(value.scopes)
  ) {
    throw new Error(`The console config's cognito needs ${fields.join(', ')} (strings) and scopes (strings)`);
  }
  for (const field of ['authorizeEndpoint', 'tokenEndpoint', 'redirectUri'] as const) {
    if (!(value[field] as string).startsWith('https://'))
      throw new Error(`cognito.${field} must be an https URL`);
  }
  return {
    authorizeEndpoint: value.authorizeEndpoint as string,
    tokenEndpoint: value.tokenEndpoint as string,
    clientId: value.clientId as string,
    redirectUri: value.redirectUri as string,
    scopes: value.scopes,
  };
}

function originOf(url: string): string {
  return new URL(url).origin;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
