import { ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type CfnLogGroup, LogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ENV } from '../../functions/catalog.ts';
import type { CommandDocument, CommandDocumentKey } from '../../host-scripts/command-documents.ts';
import { LOG_GROUP_DEFAULTS, type ProjectFunction, WILDCARD_RESOURCE_FINDING } from './lambda-defaults.ts';

export interface AgentCommandsProps {
  /** The documents to create, as host-scripts/command-documents.ts builds them. */
  readonly documents: readonly CommandDocument[];
  /** Only instances carrying this tag may receive the documents' commands. */
  readonly managedInstanceTag: { readonly key: string; readonly value: string };
}

/**
 * The SSM Command documents that run the host scripts (one per subtask, one for the agent status),
 * named by CloudFormation, and the grants to send them to tagged instances.
 */
export class AgentCommands extends Construct {
  readonly managedInstanceTag: { readonly key: string; readonly value: string };
  /**
   * Where SSM writes the commands' full output (SendCommand's CloudWatch output) as they run: a
   * subtask's log is read from here while its command runs, and when SSM returns its output
   * truncated. Instances write to it with their own role.
   */
  readonly outputLogGroup: LogGroup;
  /**
   * For each host's instance role, beside AmazonSSMManagedInstanceCore: what the SSM Agent needs to
   * stream a command's output to outputLogGroup. Without it the agent turns streaming off for the
   * command, silently, and only SSM's truncated inline output is left.
   */
  readonly instanceOutputPolicy: ManagedPolicy;
  private readonly documents = new Map<CommandDocumentKey, CfnDocument>();

  constructor(scope: Construct, id: string, props: AgentCommandsProps) {
    super(scope, id);
    this.managedInstanceTag = props.managedInstanceTag;
    this.outputLogGroup = new LogGroup(this, 'CommandOutput', LOG_GROUP_DEFAULTS);
    this.instanceOutputPolicy = this.createInstanceOutputPolicy();
    for (const document of props.documents) {
      if (this.documents.has(document.key)) throw new Error(`Two command documents for ${document.key}`);
      this.documents.set(
        document.key,
        new CfnDocument(this, `${document.key}Document`, {
          documentType: 'Command',
          documentFormat: 'JSON',
          content: document.content,
          // Keeps the name when the script changes, so commands in flight still match the callback rule.
          updateMethod: 'NewVersion',
        }),
      );
    }
  }

  /** The document's name (a CloudFormation reference). */
  documentName(key: CommandDocumentKey): string {
    const document = this.documents.get(key);
    if (!document) throw new Error(`No command document for ${key}`);
    return document.ref;
  }

  documentArn(key: CommandDocumentKey): string {
    return Stack.of(this).formatArn({
      service: 'ssm',
      resource: 'document',
      resourceName: this.documentName(key),
    });
  }

  /**
   * Lets the function send these documents' commands to tagged instances, and tells it the documents'
   * names (COMMAND_DOCUMENTS, a JSON object from key to name).
   */
  grantSendCommand(fn: ProjectFunction, keys: readonly CommandDocumentKey[]): void {
    const stack = Stack.of(this);
    fn.addEnvironment(
      ENV.commandDocuments,
      stack.toJsonString(Object.fromEntries(keys.map((key) => [key, this.documentName(key)]))),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: keys.map((key) => this.documentArn(key)),
      }),
    );
    const targets = [
      { service: 'ec2', resource: 'instance' },
      { service: 'ssm', resource: 'managed-instance' },
    ];
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['ssm:SendCommand'],
        resources: targets.map((target) => stack.formatArn({ ...target, resourceName: '*' })),
        conditions: {
          StringEquals: { [`ssm:resourceTag/${this.managedInstanceTag.key}`]: this.managedInstanceTag.value },
        },
      }),
    );
    for (const target of targets) {
      Validations.of(fn).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:${target.service}:<AWS::Region>:<AWS::AccountId>:${target.resource}/*]`,
        reason: `Instance ids are only known per request; the statement allows only ${target.resource}s tagged ${this.managedInstanceTag.key}=${this.managedInstanceTag.value}.`,
      });
    }
  }

  /** Tells the function where its commands' full output goes (it sends or records commands). */
  useOutputLogGroup(fn: ProjectFunction): void {
    fn.addEnvironment(ENV.commandOutputLogGroup, this.outputLogGroup.logGroupName);
  }

  /** Lets the function read the commands' output: a running one's so far, an ended one's in full. */
  grantReadOutput(fn: ProjectFunction): void {
    this.useOutputLogGroup(fn);
    fn.addToRolePolicy(
      new PolicyStatement({ actions: ['logs:GetLogEvents'], resources: [this.outputStreamsArn()] }),
    );
    Validations.of(fn).acknowledge({
      id: this.outputStreamsFinding(),
      reason:
        'SSM names a command output stream after the command, known only once it was sent; the grant covers only the product’s output log group.',
    });
  }

  /**
   * The calls the SSM Agent makes to stream a command's output (agent/framework/processor/executer/
   * iohandler and agentlogstocloudwatch in aws/amazon-ssm-agent): CreateLogGroup, falling back to
   * DescribeLogGroups to find an existing group; CreateLogStream on a stream's first output;
   * DescribeLogStreams for its sequence token; PutLogEvents. The group has no customer managed KMS
   * key; with one, CloudWatch Logs would use it through the key's policy, not the writer's.
   */
  private createInstanceOutputPolicy(): ManagedPolicy {
    const stack = Stack.of(this);
    const policy = new ManagedPolicy(this, 'InstanceOutputPolicy', {
      description:
        'Attach to each host’s instance role, beside AmazonSSMManagedInstanceCore: lets the SSM Agent stream the OCP agent restart commands’ full output to CloudWatch Logs',
      statements: [
        new PolicyStatement({
          actions: ['logs:CreateLogGroup', 'logs:DescribeLogStreams'],
          // IAM names a log group without a suffix; CloudWatch Logs reports its ARN with ":*".
          resources: [
            stack.formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: this.outputLogGroup.logGroupName,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
            this.outputLogGroup.logGroupArn,
          ],
        }),
        new PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [this.outputStreamsArn()],
        }),
        new PolicyStatement({ actions: ['logs:DescribeLogGroups'], resources: ['*'] }),
      ],
    });
    Validations.of(policy).acknowledge({
      id: this.outputStreamsFinding(),
      reason:
        'The agent names a command output stream after the command, known only once it was sent; the statement covers only the product’s output log group.',
    });
    Validations.of(policy).acknowledge({
      id: WILDCARD_RESOURCE_FINDING,
      reason:
        'logs:DescribeLogGroups, which the agent calls to find an existing log group, supports no resource-level permissions.',
    });
    return policy;
  }

  /** Every stream of the output log group. */
  private outputStreamsArn(): string {
    return Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `${this.outputLogGroup.logGroupName}:log-stream:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** cdk-nag's finding for a statement on outputStreamsArn. */
  private outputStreamsFinding(): string {
    const stack = Stack.of(this);
    const logGroupId = stack.resolve(
      stack.getLogicalId(this.outputLogGroup.node.defaultChild as CfnLogGroup),
    );
    return `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${logGroupId}>:log-stream:*]`;
  }

  /** Lets the function read a command's status and output. */
  grantReadInvocations(fn: ProjectFunction): void {
    fn.allowOnAnyResource(
      ['ssm:GetCommandInvocation'],
      'SSM authorizes it on no narrower resource than "*".',
    );
  }

  /**
   * Lets the function ask SSM how a command stands and whether its host is connected
   * (GetCommandInvocation, DescribeInstanceInformation), to record a command's outcome or why it
   * did not finish.
   */
  grantDiagnoseCommands(fn: ProjectFunction): void {
    fn.allowOnAnyResource(
      ['ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation'],
      'SSM authorizes them on no narrower resource than "*" (the Service Authorization Reference lists no resource type for either).',
    );
  }

  /** Lets the function cancel a command it knows the id of. */
  grantCancelCommands(fn: ProjectFunction): void {
    fn.allowOnAnyResource(['ssm:CancelCommand'], 'SSM authorizes it on no narrower resource than "*".');
  }
}
