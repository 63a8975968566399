import { SFNClient } from '@aws-sdk/client-sfn';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_SFN, AWS_REGION). */
export const sfn = traceClient(new SFNClient({}));
