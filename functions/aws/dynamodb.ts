import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION). */
export const dynamodb = new DynamoDBClient({});
