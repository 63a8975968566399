import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';
import { traceClient } from '../tracer.ts';

/** Endpoint and region come from the standard SDK configuration (AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION). */
export const dynamodb = traceClient(new DynamoDBClient({}));

/**
 * True for a transaction that DynamoDB cancelled only because a concurrent one held one of its items
 * (the task counters are shared by the tasks of a month): it changed nothing and may be sent again.
 */
export function cancelledByConflictOnly(error: unknown): boolean {
  if (!(error instanceof TransactionCanceledException)) return false;
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
  return (
    codes.includes('TransactionConflict') &&
    codes.every((code) => code === 'None' || code === 'TransactionConflict')
  );
}

// Inside the SDK's retry middleware: such a cancellation is retried like a transient error (with
// backoff and jitter, within the client's attempts). DynamoDB Local runs transactions one at a time
// and never reports a conflict; AWS does when restarts start or end at the same moment.
dynamodb.middlewareStack.addRelativeTo(
  <Input extends object, Output extends MetadataBearer>(next: FinalizeHandler<Input, Output>) =>
    async (args: FinalizeHandlerArguments<Input>) => {
      try {
        return await next(args);
      } catch (error) {
        if (cancelledByConflictOnly(error)) Object.assign(error as object, { $retryable: {} });
        throw error;
      }
    },
  { relation: 'after', toMiddleware: 'retryMiddleware', name: 'retryTransactionConflicts' },
);
