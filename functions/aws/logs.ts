import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_REGION). */
export const logs = new CloudWatchLogsClient({});
