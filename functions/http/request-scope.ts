import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RequestScope } from '#core/envelope';

/** Short stable id of this server instance, like OCP's `server` field. */
const SERVER_ID = createHash('sha256')
  .update(`${hostname()}:${process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? process.pid}`)
  .digest('hex')
  .slice(0, 10);

export function newRequestScope(startedAt = Date.now()): RequestScope {
  return { traceId: randomBytes(8).toString('hex'), server: SERVER_ID, startedAt };
}
