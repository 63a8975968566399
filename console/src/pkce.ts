/**
 * The authorization code flow with PKCE (RFC 7636, S256) against Cognito's hosted login: pure steps,
 * given the Web Crypto API, so that they are tested outside a browser.
 */

import type { CognitoSignIn } from '../../functions/core/console.ts';

/** What is kept in sessionStorage for the round trip to the hosted login, and only that. */
export interface PkceRoundTrip {
  verifier: string;
  state: string;
}

/** The part of the Web Crypto API the flow uses (a browser's `crypto`, or Node's `webcrypto`). */
export interface WebCrypto {
  getRandomValues(array: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>;
  subtle: { digest(algorithm: 'SHA-256', data: Uint8Array<ArrayBuffer>): Promise<ArrayBuffer> };
}

export function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** 32 random bytes, base64url: a 43-character verifier or state (RFC 7636 asks 43 to 128). */
export function randomToken(crypto: WebCrypto): string {
  return base64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function challengeOf(verifier: string, crypto: WebCrypto): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

export function authorizeUrl(settings: CognitoSignIn, state: string, challenge: string): string {
  const url = new URL(settings.authorizeEndpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    scope: settings.scopes.join(' '),
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

/** What the hosted login's redirect back carries: a code, an error, or nothing of the flow. */
export type Redirect = { code: string; state: string } | { error: string } | undefined;

export function readRedirect(search: string): Redirect {
  const query = new URLSearchParams(search);
  const error = query.get('error');
  if (error)
    return {
      error: `${error}${query.get('error_description') ? `: ${query.get('error_description')}` : ''}`,
    };
  const code = query.get('code');
  const state = query.get('state');
  if (code && state) return { code, state };
  if (code || state) return { error: 'the sign-in answer lacks its code or state' };
  return undefined;
}

/** The token request's form body; refused when the state is not the one this page sent. */
export function tokenRequestBody(
  settings: CognitoSignIn,
  redirect: { code: string; state: string },
  roundTrip: PkceRoundTrip | undefined,
): URLSearchParams {
  if (!roundTrip) throw new Error('No sign-in was started from this tab: sign in again.');
  if (roundTrip.state !== redirect.state)
    throw new Error('The sign-in answer does not match the sign-in this tab started: sign in again.');
  return new URLSearchParams({
    grant_type: 'authorization_code',
    client_id: settings.clientId,
    code: redirect.code,
    redirect_uri: settings.redirectUri,
    code_verifier: roundTrip.verifier,
  });
}

export function parseRoundTrip(stored: string | null): PkceRoundTrip | undefined {
  if (!stored) return undefined;
  try {
    const parsed = JSON.parse(stored) as Partial<PkceRoundTrip>;
    return typeof parsed.verifier === 'string' && typeof parsed.state === 'string'
      ? { verifier: parsed.verifier, state: parsed.state }
      : undefined;
  } catch {
    return undefined;
  }
}
