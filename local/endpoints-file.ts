/** Where a running local mode writes its endpoints, in its state folder (read by `npm run event`, ocpctl). */
export const ENDPOINTS_FILE = 'endpoints.json';

/** What ENDPOINTS_FILE holds. */
export interface LocalEndpoints {
  apiUrl: string;
  awsEndpointUrl: string;
  dynamodbEndpoint: string;
  eventBusName: string;
  taskTable: string;
  /** Where the bus's "Restart Rejected" events are delivered (QUEUE_NAMES.rejectionEvents). */
  rejectionEventsQueueUrl: string;
}
