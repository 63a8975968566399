import { type BatchRequest, parseBatchRequest } from './batch-request.ts';
import { InvalidArgument } from './errors.ts';
import { parseLongId } from './ids.ts';

/**
 * The detail of an "OCP Agent Restart Requested" event, as far as it says what to restart: one host
 * (`hostId`), or a fleet (`hostIds`, with the batch API's `rollout`). Its shape is checked by the
 * trigger; the values are checked here.
 */
export interface RestartRequestedDetail {
  hostId?: number | string;
  hostIds?: unknown;
  rollout?: unknown;
  dryRun?: unknown;
  prohibitRollback?: boolean;
}

/** What an event asks to restart: one host's agent, or a fleet's through a batch. */
export type RequestedRestart = { kind: 'host'; hostId: bigint } | { kind: 'fleet'; batch: BatchRequest };

const EVENT_DETAIL = { subject: 'restart request', at: ['detail'] } as const;

/**
 * Reads what the event asks to restart; an InvalidArgument says what is wrong. Exactly one of
 * `hostId` and `hostIds`; `hostIds` and `rollout` are read as the batch API reads its body, so the
 * same lists are refused for the same reasons. A dry run answers a plan to whoever asked, which an
 * event has no way to receive, so events may not ask for one.
 */
export function readRequestedRestart(detail: RestartRequestedDetail): RequestedRestart {
  const refuse = (field: string, message: string): never => {
    throw new InvalidArgument(`Invalid restart request: ${field} ${message}.`, field);
  };
  if (detail.dryRun !== undefined)
    refuse(
      'detail.dryRun',
      'is not accepted from events: an event has no one to answer a plan to; ask POST /compute/hosts/batchRestartAgents with "dryRun": true instead',
    );
  if (detail.hostId !== undefined && detail.hostIds !== undefined)
    refuse('detail', 'gives both hostId and hostIds: give one host as hostId or many as hostIds');
  if (detail.hostIds !== undefined) {
    const { hostIds, rollout, prohibitRollback } = detail;
    return {
      kind: 'fleet',
      batch: parseBatchRequest(
        {
          hostIds,
          ...(rollout === undefined ? {} : { rollout }),
          ...(prohibitRollback === undefined ? {} : { prohibitRollback }),
        },
        EVENT_DETAIL,
      ),
    };
  }
  if (detail.hostId === undefined)
    return refuse('detail', 'names no host: give one host as hostId or many as hostIds');
  if (detail.rollout !== undefined)
    refuse('detail.rollout', 'applies to a fleet only: give the hosts as hostIds to roll out over them');
  return { kind: 'host', hostId: parseLongId(String(detail.hostId), 'hostId') };
}
