import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_REGION). */
export const logs = traceClient(new CloudWatchLogsClient({}));
