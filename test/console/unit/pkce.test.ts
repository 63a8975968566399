import { webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  authorizeUrl,
  challengeOf,
  parseRoundTrip,
  randomToken,
  readRedirect,
  tokenRequestBody,
  type WebCrypto,
} from '../../../console/src/pkce.ts';

const crypto: WebCrypto = webcrypto;
const COGNITO = {
  authorizeEndpoint: 'https://ocp.auth.eu-west-1.amazoncognito.com/oauth2/authorize',
  tokenEndpoint: 'https://ocp.auth.eu-west-1.amazoncognito.com/oauth2/token',
  clientId: 'client123',
  redirectUri: 'https://api.example.com/console',
  scopes: ['openid', 'email'],
};

describe('PKCE (RFC 7636, S256)', () => {
  it('derives the challenge of RFC 7636’s example verifier', async () => {
    expect(await challengeOf('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', crypto)).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes fresh 43-character base64url verifiers', () => {
    const a = randomToken(crypto);
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken(crypto)).not.toBe(a);
  });

  it('sends the code flow’s parameters to the hosted login', () => {
    const url = new URL(authorizeUrl(COGNITO, 'state1', 'challenge1'));
    expect(url.origin + url.pathname).toBe(COGNITO.authorizeEndpoint);
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'client123',
      redirect_uri: 'https://api.example.com/console',
      scope: 'openid email',
      state: 'state1',
      code_challenge: 'challenge1',
      code_challenge_method: 'S256',
    });
  });

  it('reads the redirect back: a code with its state, an error, or nothing of the flow', () => {
    expect(readRedirect('?code=abc&state=s1')).toEqual({ code: 'abc', state: 's1' });
    expect(readRedirect('?error=access_denied&error_description=no')).toEqual({ error: 'access_denied: no' });
    expect(readRedirect('?code=abc')).toEqual({ error: 'the sign-in answer lacks its code or state' });
    expect(readRedirect('')).toBeUndefined();
  });

  it('exchanges the code with the verifier only when the state is the one this tab sent', () => {
    const body = tokenRequestBody(COGNITO, { code: 'abc', state: 's1' }, { verifier: 'v1', state: 's1' });
    expect(Object.fromEntries(body)).toEqual({
      grant_type: 'authorization_code',
      client_id: 'client123',
      code: 'abc',
      redirect_uri: 'https://api.example.com/console',
      code_verifier: 'v1',
    });
    expect(() =>
      tokenRequestBody(COGNITO, { code: 'abc', state: 'other' }, { verifier: 'v1', state: 's1' }),
    ).toThrow(/does not match/);
    expect(() => tokenRequestBody(COGNITO, { code: 'abc', state: 's1' }, undefined)).toThrow(/No sign-in/);
  });

  it('reads back only a well-formed round trip from sessionStorage', () => {
    expect(parseRoundTrip('{"verifier":"v","state":"s"}')).toEqual({ verifier: 'v', state: 's' });
    expect(parseRoundTrip('{"verifier":1}')).toBeUndefined();
    expect(parseRoundTrip('not json')).toBeUndefined();
    expect(parseRoundTrip(null)).toBeUndefined();
  });
});
