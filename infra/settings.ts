import type { Node } from 'constructs';

/** CDK context keys a deployer may set (`npx cdk deploy -c key=value`); the one place their names live. */
export const CONTEXT_KEYS = {
  oidcIssuer: 'oidcIssuer',
  oidcAudience: 'oidcAudience',
  permissionsClaim: 'permissionsClaim',
  managedInstanceTagKey: 'managedInstanceTagKey',
  managedInstanceTagValue: 'managedInstanceTagValue',
  apiRateLimit: 'apiThrottleRateLimit',
  apiBurstLimit: 'apiThrottleBurstLimit',
} as const;

export const DEFAULT_SETTINGS = {
  permissionsClaim: 'cognito:groups',
  managedInstanceTag: { key: 'ocp-agent-restart:managed', value: 'true' },
  apiThrottle: { rateLimit: 20, burstLimit: 40 },
} as const;

/** An external OpenID Connect issuer whose tokens the API accepts instead of a Cognito user pool's. */
export interface OidcSettings {
  readonly issuer: string;
  /** Accepted `aud` (or `client_id`) values. */
  readonly audience: readonly string[];
}

/** The deployment's choices, read once from CDK context. */
export interface DeploymentSettings {
  /** When absent, the stack creates a Cognito user pool and its app client. */
  readonly oidc?: OidcSettings;
  /** JWT claim holding the caller's OCP permissions. */
  readonly permissionsClaim: string;
  /** Only instances carrying this tag may receive the product's commands. */
  readonly managedInstanceTag: { readonly key: string; readonly value: string };
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
}

/** Reads the deployment settings from CDK context, failing loudly on a value it cannot use. */
export function readSettings(node: Node): DeploymentSettings {
  const text = (key: string): string | undefined => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new Error(`CDK context ${key} must be a string`);
    return value.trim();
  };
  const positiveNumber = (key: string, fallback: number): number => {
    const value: unknown = node.tryGetContext(key);
    if (value === undefined || value === null || value === '') return fallback;
    const parsed = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`CDK context ${key} must be a positive number`);
    return parsed;
  };

  const issuer = text(CONTEXT_KEYS.oidcIssuer);
  const audience = text(CONTEXT_KEYS.oidcAudience)
    ?.split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if ((issuer === undefined) !== (audience === undefined || audience.length === 0)) {
    throw new Error(
      `CDK context ${CONTEXT_KEYS.oidcIssuer} and ${CONTEXT_KEYS.oidcAudience} must be given together`,
    );
  }
  if (issuer !== undefined && !issuer.startsWith('https://')) {
    throw new Error(`CDK context ${CONTEXT_KEYS.oidcIssuer} must be an https:// URL`);
  }

  return {
    ...(issuer !== undefined && audience ? { oidc: { issuer, audience } } : {}),
    permissionsClaim: text(CONTEXT_KEYS.permissionsClaim) ?? DEFAULT_SETTINGS.permissionsClaim,
    managedInstanceTag: {
      key: text(CONTEXT_KEYS.managedInstanceTagKey) ?? DEFAULT_SETTINGS.managedInstanceTag.key,
      value: text(CONTEXT_KEYS.managedInstanceTagValue) ?? DEFAULT_SETTINGS.managedInstanceTag.value,
    },
    apiThrottle: {
      rateLimit: positiveNumber(CONTEXT_KEYS.apiRateLimit, DEFAULT_SETTINGS.apiThrottle.rateLimit),
      burstLimit: positiveNumber(CONTEXT_KEYS.apiBurstLimit, DEFAULT_SETTINGS.apiThrottle.burstLimit),
    },
  };
}
