import { App, type AppProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { commandDocuments } from '../host-scripts/command-documents.ts';
import { readSettings } from './settings.ts';
import { OcpAgentRestartStack } from './stack.ts';

export const STACK_NAME = 'OcpAgentRestartStack';

/** The CDK app: the product's one stack, checked by cdk-nag's AWS Solutions rules on every synth. */
export function createApp(props: AppProps = {}): { app: App; stack: OcpAgentRestartStack } {
  const app = new App(props);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new OcpAgentRestartStack(app, STACK_NAME, {
    description: 'Restart the OCP agent on a host: OCP-compatible API, Step Functions workflow, SSM commands',
    settings: readSettings(app.node),
    commandDocuments: commandDocuments(),
  });
  return { app, stack };
}
