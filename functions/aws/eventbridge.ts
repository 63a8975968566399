import { EventBridgeClient } from '@aws-sdk/client-eventbridge';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_REGION). */
export const eventbridge = new EventBridgeClient({});
