import { Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpStage,
  type IHttpRouteAuthorizer,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ConsoleConfig } from '#core/console';
import { TASKS_PER_ID_BLOCK } from '#core/id-blocks';
import { API_ROUTES, STATIC_ROUTES } from '#http/routes';
import { ENV } from '../../functions/catalog.ts';
import type { AgentCommands } from './agent-commands.ts';
import type { BatchRollout } from './batch-rollout.ts';
import { LOG_GROUP_DEFAULTS, ProjectFunction } from './lambda-defaults.ts';

/** The bundle's folder of the console's files and openapi.json. */
const CONSOLE_ASSETS_FOLDER = 'console-assets';

import type { OperatorIdentity } from './operator-identity.ts';
import type { RestartWorkflow } from './restart-workflow.ts';
import type { TaskStore } from './task-store.ts';

export interface OcpApiProps {
  readonly store: TaskStore;
  readonly commands: AgentCommands;
  readonly workflow: RestartWorkflow;
  /** The fleet rollout batchRestartAgents starts. */
  readonly rollout: BatchRollout;
  /** Checks the bearer token of every route but the static ones (OpenAPI document, console files). */
  readonly authorizer: IHttpRouteAuthorizer;
  /** Where the console signs operators in. */
  readonly identity: OperatorIdentity;
  /** JWT claim holding the caller's OCP permissions. */
  readonly permissionsClaim: string;
  /** Default route throttling of the stage. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
}

/** HTTP API access log line: HTTP API's $context variables as one JSON object. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    integrationLatency: '$context.integrationLatency',
    caller: '$context.authorizer.claims.sub',
    authorizerError: '$context.authorizer.error',
    integrationError: '$context.integrationErrorMessage',
  }),
);

/**
 * The OCP-compatible HTTP API: every route in API_ROUTES, behind the JWT authorizer, served by the
 * api function; the static routes (OpenAPI document, web console) without it, served by the
 * consoleAssets function, whose bundle carries the built files; one $default stage with access logs
 * and default throttling.
 */
export class OcpApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly handler: ProjectFunction;
  readonly consoleAssets: ProjectFunction;

  constructor(scope: Construct, id: string, props: OcpApiProps) {
    super(scope, id);
    const { store, commands, workflow } = props;

    this.handler = new ProjectFunction(this, 'Handler', { functionId: 'api' });
    this.handler.addEnvironment(ENV.permissionsClaim, props.permissionsClaim);
    this.handler.addEnvironment(ENV.taskIdBlockTasks, String(TASKS_PER_ID_BLOCK));
    store.grantTaskTable(this.handler, { queryIndexes: true });
    store.grantHostLookup(this.handler);
    workflow.grantStartAndControl(this.handler);
    props.rollout.grantStartAndControl(this.handler);
    store.grantBulkTaskItems(this.handler);
    store.grantHostBulkLookup(this.handler);
    // GET /api/v2/compute/hosts: the host table scanned, the page's locks read as bulk task items.
    store.grantHostListing(this.handler);
    // A dry run asks SSM whether each host is online.
    commands.grantDiagnoseCommands(this.handler);
    commands.grantSendCommand(this.handler, ['agentStatus']);
    commands.grantReadInvocations(this.handler);
    commands.grantReadOutput(this.handler);
    commands.grantCancelCommands(this.handler);

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'OCP-compatible API: restart the OCP agent on a host, read and act on tasks',
      createDefaultStage: false,
      defaultAuthorizer: props.authorizer,
    });
    const integration = new HttpLambdaIntegration('Handler', this.handler.function);
    for (const route of Object.values(API_ROUTES)) {
      this.httpApi.addRoutes({ path: route.path, methods: [HttpMethod[route.method]], integration });
    }

    this.consoleAssets = new ProjectFunction(this, 'ConsoleAssets', {
      functionId: 'consoleAssets',
      addFilesToBundle: (outputDir) => [
        `node --import tsx console/static-assets.ts "${outputDir}/${CONSOLE_ASSETS_FOLDER}"`,
      ],
    });
    // Lambda unpacks the bundle at LAMBDA_TASK_ROOT, /var/task.
    this.consoleAssets.addEnvironment(ENV.consoleAssetsDir, `/var/task/${CONSOLE_ASSETS_FOLDER}`);
    const cognito = props.identity.consoleSignIn(this.consoleUrl);
    this.consoleAssets.addEnvironment(
      ENV.consoleConfig,
      Stack.of(this).toJsonString({
        permissionsClaim: props.permissionsClaim,
        loopbackSignIn: false,
        ...(cognito ? { cognito } : {}),
      } satisfies ConsoleConfig),
    );
    const staticIntegration = new HttpLambdaIntegration('ConsoleAssets', this.consoleAssets.function);
    for (const route of Object.values(STATIC_ROUTES)) {
      const [staticRoute] = this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: staticIntegration,
        authorizer: new HttpNoneAuthorizer(),
      });
      Validations.of(staticRoute!).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: `${route.method} ${route.path} answers the same static file to everyone (the OpenAPI document, the console’s page and scripts): no data, no action; the console signs in before it calls the API, whose routes all check the token.`,
      });
    }

    const accessLogs = new LogGroup(this, 'AccessLogs', LOG_GROUP_DEFAULTS);
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      accessLogSettings: { destination: new LogGroupLogDestination(accessLogs), format: ACCESS_LOG_FORMAT },
    });
  }

  /** The API's base URL. */
  get url(): string {
    return this.stage.url;
  }

  /** The web console's page: the hosted login's only callback URL. */
  get consoleUrl(): string {
    return `${this.httpApi.apiEndpoint}${STATIC_ROUTES.consolePage.path}`;
  }
}
