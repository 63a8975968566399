import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_REGION). */
export const eventbridge = traceClient(new EventBridgeClient({}));
