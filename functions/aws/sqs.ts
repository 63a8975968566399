import { SQSClient } from '@aws-sdk/client-sqs';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_SQS, AWS_REGION). */
export const sqs = traceClient(new SQSClient({}));
