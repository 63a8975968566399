import { describe, expect, it } from 'vitest';
import {
  type ConsoleConfig,
  consoleHeaders,
  contentSecurityPolicy,
  contentTypeOf,
  isAssetName,
  parseConsoleConfig,
} from '#core/console';

const cognito = {
  authorizeEndpoint: 'https://ops.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
  tokenEndpoint: 'https://ops.auth.eu-west-1.amazoncognito.com/oauth2/token',
  clientId: 'abc123',
  redirectUri: 'https://api.example.com/console',
  scopes: ['openid'],
};

describe('the console’s Content-Security-Policy', () => {
  it('allows scripts, styles and requests from its own origin only, and no framing, forms or base', () => {
    const policy = contentSecurityPolicy({ permissionsClaim: 'cognito:groups', loopbackSignIn: true });
    expect(policy.split('; ')).toEqual([
      "default-src 'none'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ]);
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval/);
  });

  it('adds the hosted login’s origin to connect-src only, for the code exchange', () => {
    const policy = contentSecurityPolicy({ permissionsClaim: 'groups', loopbackSignIn: false, cognito });
    expect(policy).toContain("connect-src 'self' https://ops.auth.eu-west-1.amazoncognito.com;");
    expect(policy).toContain("script-src 'self';");
  });

  it('goes with nosniff, no referrer and revalidation on every answer', () => {
    expect(consoleHeaders({ permissionsClaim: 'x', loopbackSignIn: false }, 'text/html')).toMatchObject({
      'content-type': 'text/html',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-cache',
    });
  });
});

describe('asset names', () => {
  it.each(['console.js', 'console.css', 'config.json', 'index.html', 'logo.svg'])('serves %s', (name) => {
    expect(isAssetName(name)).toBe(true);
  });

  it.each(['../openapi.json', '.env', 'console.ts', 'a/b.js', '', 'x..js', 'CONSOLE.JS'])(
    'refuses %j',
    (name) => {
      expect(isAssetName(name)).toBe(false);
    },
  );

  it('types each kind of file', () => {
    expect(contentTypeOf('console.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('index.html')).toBe('text/html; charset=utf-8');
    expect(contentTypeOf('config.json')).toBe('application/json');
  });
});

describe('parseConsoleConfig', () => {
  it('reads a local and a Cognito config', () => {
    const local: ConsoleConfig = { permissionsClaim: 'cognito:groups', loopbackSignIn: true };
    expect(parseConsoleConfig(JSON.stringify(local))).toEqual(local);
    expect(parseConsoleConfig(JSON.stringify({ ...local, loopbackSignIn: false, cognito }))).toEqual({
      ...local,
      loopbackSignIn: false,
      cognito,
    });
  });

  it.each([
    [undefined, /JSON/],
    ['{}', /permissionsClaim/],
    ['{"permissionsClaim":"g","loopbackSignIn":"yes"}', /loopbackSignIn/],
    [
      JSON.stringify({
        permissionsClaim: 'g',
        loopbackSignIn: false,
        cognito: { ...cognito, scopes: 'openid' },
      }),
      /scopes/,
    ],
    [
      JSON.stringify({
        permissionsClaim: 'g',
        loopbackSignIn: false,
        cognito: { ...cognito, tokenEndpoint: 'http://x' },
      }),
      /https/,
    ],
  ])('refuses %s', (text, message) => {
    expect(() => parseConsoleConfig(text)).toThrow(message);
  });
});
