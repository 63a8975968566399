import { SQSClient } from '@aws-sdk/client-sqs';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_SQS, AWS_REGION). */
export const sqs = new SQSClient({});
