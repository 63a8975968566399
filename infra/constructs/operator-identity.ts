import { Duration, Lazy, RemovalPolicy } from 'aws-cdk-lib';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import {
  AccountRecovery,
  FeaturePlan,
  Mfa,
  OAuthScope,
  StandardThreatProtectionMode,
  UserPool,
  type UserPoolClient,
  UserPoolClientIdentityProvider,
  type UserPoolDomain,
} from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import type { CognitoSignIn } from '#core/console';
import type { Permission } from '#core/identity';
import type { OidcSettings } from '../settings.ts';

/** The OCP permissions the API checks, one user pool group each. */
export const OPERATOR_GROUPS = ['HOST_MANAGER', 'HOST_VIEWER', 'TASK_MANAGER', 'TASK_VIEWER'] as const;
// Fails to compile if core/identity gains a permission that has no group here.
const everyPermissionHasAGroup: Exclude<Permission, (typeof OPERATOR_GROUPS)[number]> extends never
  ? true
  : never = true;
void everyPermissionHasAGroup;

export interface OperatorIdentityProps {
  /** Trust this issuer's tokens instead of creating a user pool. */
  readonly oidc?: OidcSettings;
  /** The hosted login's domain prefix (`<prefix>.auth.<region>.amazoncognito.com`); unique in the region. */
  readonly loginDomainPrefix: string;
}

/** OAuth scopes the console asks the hosted login for: its tokens carry the groups either way. */
const CONSOLE_SCOPES = [OAuthScope.OPENID];

/**
 * Who may call the API: a Cognito user pool (MFA required, threat protection enforced, one group
 * per OCP permission, an app client without a secret for CLI sign-in, and the hosted login with a
 * public client for the web console: authorization code with PKCE, back to the console's URL only),
 * or an external OIDC issuer. Either way the API checks tokens with a JWT authorizer.
 */
export class OperatorIdentity extends Construct {
  readonly authorizer: IHttpRouteAuthorizer;
  readonly userPool?: UserPool;
  readonly userPoolClient?: UserPoolClient;
  readonly consoleClient?: UserPoolClient;
  readonly loginDomain?: UserPoolDomain;
  private consoleUrl?: string;

  constructor(scope: Construct, id: string, props: OperatorIdentityProps) {
    super(scope, id);
    if (props.oidc) {
      this.authorizer = new HttpJwtAuthorizer('OidcAuthorizer', props.oidc.issuer, {
        jwtAudience: [...props.oidc.audience],
      });
      return;
    }

    const userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const group of OPERATOR_GROUPS) {
      userPool.addGroup(group, { groupName: group, description: `Grants the OCP permission ${group}` });
    }
    const client = userPool.addClient('ApiClient', {
      authFlows: { userSrp: true, userPassword: true },
      generateSecret: false,
      disableOAuth: true,
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });

    // The console's URL is the API's, known only once the API exists: see consoleSignIn.
    const consoleUrl = Lazy.string({
      produce: () => {
        if (!this.consoleUrl) throw new Error('OperatorIdentity: consoleSignIn was never called');
        return this.consoleUrl;
      },
    });
    const consoleClient = userPool.addClient('ConsoleClient', {
      generateSecret: false,
      authFlows: {},
      oAuth: {
        flows: { authorizationCodeGrant: true, implicitCodeGrant: false, clientCredentials: false },
        scopes: CONSOLE_SCOPES,
        callbackUrls: [consoleUrl],
        logoutUrls: [consoleUrl],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });
    this.loginDomain = userPool.addDomain('HostedLogin', {
      cognitoDomain: { domainPrefix: props.loginDomainPrefix },
    });

    this.userPool = userPool;
    this.userPoolClient = client;
    this.consoleClient = consoleClient;
    this.authorizer = new HttpUserPoolAuthorizer('CognitoAuthorizer', userPool, {
      userPoolClients: [client, consoleClient],
    });
  }

  /**
   * How the console at `consoleUrl` signs operators in through the hosted login (its only callback
   * and sign-out URL); undefined with an external OIDC issuer, where operators paste a token.
   */
  consoleSignIn(consoleUrl: string): CognitoSignIn | undefined {
    if (!this.loginDomain || !this.consoleClient) return undefined;
    this.consoleUrl = consoleUrl;
    const base = this.loginDomain.baseUrl();
    return {
      authorizeEndpoint: `${base}/oauth2/authorize`,
      tokenEndpoint: `${base}/oauth2/token`,
      clientId: this.consoleClient.userPoolClientId,
      redirectUri: consoleUrl,
      scopes: CONSOLE_SCOPES.map((scope) => scope.scopeName),
    };
  }
}
