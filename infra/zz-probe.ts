import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createApp } from './create-app.ts';
const { app, stack } = createApp({ context: { 'aws:cdk:bundling-stacks': [] } });
new Queue(stack, 'Probe');
const report = new AwsSolutionsChecks().validateScope(app);
console.log(JSON.stringify(report.violations.map((v) => [v.ruleName, v.severity, v.violatingResources.map((r) => r.constructPath)]), null, 1));
app.synth();
