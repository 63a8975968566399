import { createApp } from './create-app.ts';

// The CDK CLI runs this file (cdk.json "app") and reads the synthesized assembly when it exits.
createApp();
