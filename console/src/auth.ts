import { type ConsoleConfig, LOCAL_SIGN_IN_PATH } from '../../functions/core/console.ts';
import { readToken, type TokenFacts } from './claims.ts';
import {
  authorizeUrl,
  challengeOf,
  type PkceRoundTrip,
  parseRoundTrip,
  randomToken,
  readRedirect,
  tokenRequestBody,
} from './pkce.ts';

export type { ConsoleConfig };

/**
 * The session: the token lives in this module's memory only, never in the URL, storage or cookies;
 * a reload signs out. sessionStorage holds the PKCE verifier and state for the hosted login's round
 * trip, and nothing else.
 */
let session: { token: string; facts: TokenFacts } | undefined;
let config: ConsoleConfig = { permissionsClaim: 'cognito:groups', loopbackSignIn: false };
let onChange: (notice?: string) => void = () => {};

const ROUND_TRIP_KEY = 'ocp-console-pkce';

export function configure(loaded: ConsoleConfig, changed: (notice?: string) => void): void {
  config = loaded;
  onChange = changed;
}

export const consoleConfig = () => config;
export const currentToken = () => session?.token;
export const signedIn = () => session?.facts;

export function holds(permission: string): boolean {
  return session?.facts.permissions.has(permission) ?? false;
}

/** Takes a token (pasted, or from a sign-in); refused with the reason when it is no readable JWT. */
export function useToken(token: string): void {
  session = { token: token.trim(), facts: readToken(token, config.permissionsClaim) };
  onChange();
}

export function signOut(notice?: string): void {
  if (!session && !notice) return;
  session = undefined;
  onChange(notice);
}

/** Local mode's one-click sign-in: answered only to a loopback caller. */
export async function signInLocally(): Promise<void> {
  const response = await fetch(LOCAL_SIGN_IN_PATH, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
    cache: 'no-store',
  });
  const answer = (await response.json().catch(() => ({}))) as {
    token?: string;
    error?: { message?: string };
  };
  if (!response.ok || !answer.token)
    throw new Error(
      `Local sign-in refused (HTTP ${response.status})${answer.error?.message ? `: ${answer.error.message}` : ''}.`,
    );
  useToken(answer.token);
}

/** Leaves for the hosted login with a fresh verifier and state. */
export async function startCognitoSignIn(): Promise<void> {
  const cognito = config.cognito;
  if (!cognito) throw new Error('This deployment has no hosted login configured.');
  const roundTrip: PkceRoundTrip = { verifier: randomToken(crypto), state: randomToken(crypto) };
  sessionStorage.setItem(ROUND_TRIP_KEY, JSON.stringify(roundTrip));
  location.assign(authorizeUrl(cognito, roundTrip.state, await challengeOf(roundTrip.verifier, crypto)));
}

/**
 * Back from the hosted login (?code&state in the URL): exchanges the code for tokens and takes the ID
 * token; the query is removed from the address bar whatever the outcome. Returns false when the URL
 * carries no sign-in answer.
 */
export async function completeCognitoSignIn(): Promise<boolean> {
  const redirect = readRedirect(location.search);
  if (!redirect) return false;
  const roundTrip = parseRoundTrip(sessionStorage.getItem(ROUND_TRIP_KEY));
  sessionStorage.removeItem(ROUND_TRIP_KEY);
  history.replaceState(null, '', `/console${location.hash}`);
  if ('error' in redirect) throw new Error(`The hosted login refused: ${redirect.error}`);
  const cognito = config.cognito;
  if (!cognito) throw new Error('This deployment has no hosted login configured.');
  const response = await fetch(cognito.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: tokenRequestBody(cognito, redirect, roundTrip),
    cache: 'no-store',
  });
  const tokens = (await response.json().catch(() => ({}))) as { id_token?: string; error?: string };
  if (!response.ok || !tokens.id_token)
    throw new Error(
      `The token exchange failed (HTTP ${response.status}${tokens.error ? `, ${tokens.error}` : ''}).`,
    );
  useToken(tokens.id_token);
  return true;
}
