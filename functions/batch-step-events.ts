import { MAX_HEALTH_CHECK_SECONDS } from '#core/batch-request';
import * as z from '#core/schema';

/**
 * The payloads the batch state machine (statemachine/batch-restart-agents.asl.json) sends its
 * functions: "Admit host", "Record host outcome" and "Finish batch".
 */

const BatchId = z.number().check(z.int(), z.positive());
const Round = z.number().check(z.int(), z.minimum(0));

/** A Map item: the host at `index` of the batch's request. */
const BatchHost = z.object({
  index: z.number().check(z.int(), z.minimum(0)),
  hostId: z.number().check(z.int(), z.positive()),
});

export const AdmitHostEvent = z.object({ batchId: BatchId, round: Round, host: BatchHost });

export const RecordHostOutcomeEvent = z.object({
  batchId: BatchId,
  round: Round,
  host: BatchHost,
  taskId: z.number().check(z.int(), z.positive()),
  healthCheckSeconds: z.number().check(z.int(), z.minimum(0), z.maximum(MAX_HEALTH_CHECK_SECONDS)),
});

export const FinishBatchEvent = z.object({ batchId: BatchId, round: Round });
