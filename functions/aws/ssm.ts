import { SSMClient } from '@aws-sdk/client-ssm';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_SSM, AWS_REGION). */
export const ssm = traceClient(new SSMClient({}));
