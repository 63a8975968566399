import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { ENDPOINTS_FILE, type LocalEndpoints } from '../local/endpoints-file.ts';
import { loadOrCreateSigningKey, localStateDir, signLocalToken } from '../local/jwt.ts';
import type { ApiTarget } from './api-client.ts';
import { CliFailure, EXIT } from './exit-codes.ts';

/** OCP's permissions: a local token carries them all, as an operator of one's own machine. */
const LOCAL_PERMISSIONS = ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'];
const LOCAL_USER = /^[\w.@+-]{1,128}$/;

/**
 * The API and token to use: `--api`/`--token`, else OCP_API_URL/OCP_TOKEN; with no API named, the
 * running local mode (its endpoints file) with a token signed by local mode's own key.
 */
export async function resolveTarget(
  flags: { api?: string; token?: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiTarget & { local: boolean }> {
  const apiUrl = flags.api ?? (env.OCP_API_URL || undefined);
  const token = flags.token ?? (env.OCP_TOKEN || undefined);
  if (apiUrl !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(apiUrl)) {
      throw new CliFailure(`--api must be an http(s) URL, not ${JSON.stringify(apiUrl)}`, EXIT.badInput);
    }
    if (token === undefined) {
      throw new CliFailure(`No token for ${apiUrl}: pass --token or set OCP_TOKEN`, EXIT.badInput);
    }
    return { apiUrl, token, local: false };
  }
  const stateDir = localStateDir();
  const endpointsPath = join(stateDir, ENDPOINTS_FILE);
  let endpoints: LocalEndpoints;
  try {
    endpoints = JSON.parse(readFileSync(endpointsPath, 'utf8')) as LocalEndpoints;
  } catch {
    throw new CliFailure(
      `No API given and no local mode found (${endpointsPath}): start it with npm start, or pass --api and --token (or OCP_API_URL and OCP_TOKEN)`,
      EXIT.unreachable,
    );
  }
  const user = userInfo().username;
  const signed =
    token ??
    (await signLocalToken(
      { user: LOCAL_USER.test(user) ? user : 'operator', permissions: LOCAL_PERMISSIONS, expiresIn: '1h' },
      await loadOrCreateSigningKey(stateDir),
    ));
  return { apiUrl: endpoints.apiUrl, token: signed, local: true };
}
