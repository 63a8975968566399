import type { Node } from 'constructs';
import { parseBatchRequest, type RolloutFields } from '#core/batch-request';
import { InvalidArgument } from '#core/errors';
import { MAX_REASON_LENGTH, MAX_SCHEDULE_HOSTS } from '#core/scheduled-restart';

/** CDK context keys a deployer may set (`npx cdk deploy -c key=value`); the one place their names live. */
export const CONTEXT_KEYS = {
  oidcIssuer: 'oidcIssuer',
  oidcAudience: 'oidcAudience',
  loginDomainPrefix: 'loginDomainPrefix',
  permissionsClaim: 'permissionsClaim',
  managedInstanceTagKey: 'managedInstanceTagKey',
  managedInstanceTagValue: 'managedInstanceTagValue',
  apiRateLimit: 'apiThrottleRateLimit',
  apiBurstLimit: 'apiThrottleBurstLimit',
  restartSchedules: 'restartSchedules',
  eventPublisherAccounts: 'eventPublisherAccounts',
  alarmEmail: 'alarmEmail',
  failedRestartsThreshold: 'failedRestartsAlarmThreshold',
  failedRestartsWindowMinutes: 'failedRestartsAlarmWindowMinutes',
} as const;

export const DEFAULT_SETTINGS = {
  permissionsClaim: 'cognito:groups',
  managedInstanceTag: { key: 'ocp-agent-restart:managed', value: 'true' },
  apiThrottle: { rateLimit: 20, burstLimit: 40 },
  /** Restart tasks FAILED within the window that raise the alarm. */
  alarms: { failedRestartsThreshold: 3, failedRestartsWindowMinutes: 15 },
} as const;

/** CloudWatch alarm periods must be a whole number of minutes; a day is the longest window kept sensible. */
const MAX_ALARM_WINDOW_MINUTES = 1440;

/** Who hears of the alarms, and when restarts failing is an alarm. */
export interface AlarmSettings {
  /** Subscribed to the alarm topic by e-mail (it confirms the subscription). @default none */
  readonly email?: string;
  readonly failedRestartsThreshold: number;
  readonly failedRestartsWindowMinutes: number;
}

/** An external OpenID Connect issuer whose tokens the API accepts instead of a Cognito user pool's. */
export interface OidcSettings {
  readonly issuer: string;
  /** Accepted `aud` (or `client_id`) values. */
  readonly audience: readonly string[];
}

/** Hosts whose agents restart on a schedule (EventBridge Scheduler), as restart-trigger reads them. */
export interface RestartSchedule {
  /** Names the schedule; also the creator of the tasks it starts. */
  readonly name: string;
  /** `cron(...)`, `rate(...)` or `at(...)`, as EventBridge Scheduler takes it. */
  readonly expression: string;
  /** IANA time zone of a cron expression. @default UTC */
  readonly timeZone?: string;
  readonly hostIds: readonly number[];
  readonly reason?: string;
  /**
   * How each run's batch rolls out over the hosts, as the batch API's `rollout` (maxConcurrency,
   * maxErrors, healthCheckSeconds). @default the API's defaults
   */
  readonly rollout?: RolloutFields;
}

/** The deployment's choices, read once from CDK context. */
export interface DeploymentSettings {
  /** When absent, the stack creates a Cognito user pool and its app client. */
  readonly oidc?: OidcSettings;
  /**
   * The Cognito hosted login's domain prefix, unique in the region. @default the stack's name and
   * account, lower case
   */
  readonly loginDomainPrefix?: string;
  /** JWT claim holding the caller's OCP permissions. */
  readonly permissionsClaim: string;
  /** Only instances carrying this tag may receive the product's commands. */
  readonly managedInstanceTag: { readonly key: string; readonly value: string };
  readonly apiThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** @default none */
  readonly restartSchedules: readonly RestartSchedule[];
  /** Accounts, besides the deploying one, allowed to send restart requests to the bus. @default none */
  readonly eventPublisherAccounts: readonly string[];
  readonly alarms: AlarmSettings;
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
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new Error(`CDK context ${key} must be a positive number`);
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

  const loginDomainPrefix = text(CONTEXT_KEYS.loginDomainPrefix);
  // Cognito's rule for a prefix domain: lower-case letters, digits and inner hyphens, 1-63, no reserved words.
  if (
    loginDomainPrefix !== undefined &&
    (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(loginDomainPrefix) ||
      /aws|amazon|cognito/.test(loginDomainPrefix))
  ) {
    throw new Error(
      `CDK context ${CONTEXT_KEYS.loginDomainPrefix} must be 1-63 lower-case letters, digits and inner hyphens, without "aws", "amazon" or "cognito"`,
    );
  }

  const email = text(CONTEXT_KEYS.alarmEmail);
  if (email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
    throw new Error(`CDK context ${CONTEXT_KEYS.alarmEmail} must be an e-mail address`);
  const wholeNumber = (key: string, fallback: number, max: number): number => {
    const value = positiveNumber(key, fallback);
    if (!Number.isInteger(value) || value > max)
      throw new Error(`CDK context ${key} must be a whole number from 1 to ${max}`);
    return value;
  };

  const schedules: unknown = node.tryGetContext(CONTEXT_KEYS.restartSchedules);
  return {
    ...(issuer !== undefined && audience ? { oidc: { issuer, audience } } : {}),
    ...(loginDomainPrefix ? { loginDomainPrefix } : {}),
    permissionsClaim: text(CONTEXT_KEYS.permissionsClaim) ?? DEFAULT_SETTINGS.permissionsClaim,
    managedInstanceTag: {
      key: text(CONTEXT_KEYS.managedInstanceTagKey) ?? DEFAULT_SETTINGS.managedInstanceTag.key,
      value: text(CONTEXT_KEYS.managedInstanceTagValue) ?? DEFAULT_SETTINGS.managedInstanceTag.value,
    },
    apiThrottle: {
      rateLimit: positiveNumber(CONTEXT_KEYS.apiRateLimit, DEFAULT_SETTINGS.apiThrottle.rateLimit),
      burstLimit: positiveNumber(CONTEXT_KEYS.apiBurstLimit, DEFAULT_SETTINGS.apiThrottle.burstLimit),
    },
    eventPublisherAccounts: readAccounts(text(CONTEXT_KEYS.eventPublisherAccounts)),
    alarms: {
      ...(email ? { email } : {}),
      failedRestartsThreshold: wholeNumber(
        CONTEXT_KEYS.failedRestartsThreshold,
        DEFAULT_SETTINGS.alarms.failedRestartsThreshold,
        10_000,
      ),
      failedRestartsWindowMinutes: wholeNumber(
        CONTEXT_KEYS.failedRestartsWindowMinutes,
        DEFAULT_SETTINGS.alarms.failedRestartsWindowMinutes,
        MAX_ALARM_WINDOW_MINUTES,
      ),
    },
    restartSchedules: readRestartSchedules(typeof schedules === 'string' ? JSON.parse(schedules) : schedules),
  };
}

const SCHEDULE_NAME = /^[0-9A-Za-z_.-]{1,64}$/;
const SCHEDULE_EXPRESSION = /^(cron|rate|at)\(.+\)$/;
/** EventBridge Scheduler's limits (its API model and CloudFormation schema agree). */
const SCHEDULER_LIMITS = { expression: 256, timeZone: 50 } as const;

/** Checks the restartSchedules context value: a JSON array of RestartSchedule (or nothing). */
function readRestartSchedules(value: unknown): RestartSchedule[] {
  if (value === undefined || value === null) return [];
  const fail = (why: string): never => {
    throw new Error(`CDK context ${CONTEXT_KEYS.restartSchedules}: ${why}`);
  };
  if (!Array.isArray(value)) return fail('must be a JSON array');
  const names = new Set<string>();
  return value.map((item: unknown, index): RestartSchedule => {
    if (typeof item !== 'object' || item === null) return fail(`entry ${index} must be an object`);
    const { name, expression, timeZone, hostIds, reason, rollout } = item as Record<string, unknown>;
    if (typeof name !== 'string' || !SCHEDULE_NAME.test(name) || names.has(name)) {
      return fail(`entry ${index} needs a unique name of letters, digits, "_", "." or "-"`);
    }
    names.add(name);
    if (typeof expression !== 'string' || !SCHEDULE_EXPRESSION.test(expression)) {
      return fail(`${name}: expression must be cron(...), rate(...) or at(...)`);
    }
    if (expression.length > SCHEDULER_LIMITS.expression) {
      return fail(`${name}: expression must be at most ${SCHEDULER_LIMITS.expression} characters`);
    }
    if (
      timeZone !== undefined &&
      (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > SCHEDULER_LIMITS.timeZone)
    ) {
      return fail(
        `${name}: timeZone must be an IANA time zone name of 1 to ${SCHEDULER_LIMITS.timeZone} characters`,
      );
    }
    if (
      !Array.isArray(hostIds) ||
      hostIds.length === 0 ||
      hostIds.length > MAX_SCHEDULE_HOSTS ||
      !hostIds.every((id) => Number.isSafeInteger(id) && id > 0)
    ) {
      return fail(`${name}: hostIds must be 1 to ${MAX_SCHEDULE_HOSTS} positive integers`);
    }
    const repeated = hostIds.find((id, at) => hostIds.indexOf(id) !== at);
    if (repeated !== undefined) return fail(`${name}: hostIds names host ${repeated} more than once`);
    if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON_LENGTH)) {
      return fail(`${name}: reason must be text of at most ${MAX_REASON_LENGTH} characters`);
    }
    if (rollout !== undefined) {
      try {
        parseBatchRequest({ hostIds, rollout }, { subject: 'schedule', at: [] });
      } catch (error) {
        if (error instanceof InvalidArgument) return fail(`${name}: ${error.message}`);
        throw error;
      }
    }
    return {
      name,
      expression,
      hostIds: hostIds as number[],
      ...(timeZone ? { timeZone } : {}),
      ...(reason ? { reason } : {}),
      ...(rollout === undefined ? {} : { rollout: rollout as RolloutFields }),
    };
  });
}

/** A comma-separated list of 12-digit AWS account ids. */
function readAccounts(value: string | undefined): string[] {
  const accounts = (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  const invalid = accounts.find((account) => !/^\d{12}$/.test(account));
  if (invalid)
    throw new Error(
      `CDK context ${CONTEXT_KEYS.eventPublisherAccounts}: ${invalid} is not an AWS account id`,
    );
  return accounts;
}
