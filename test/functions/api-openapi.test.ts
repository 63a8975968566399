import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '#http/openapi';
import { OPENAPI_ROUTE } from '#http/routes';
import { apiEvent } from '../support/api-events.ts';
import { createTestTables } from '../support/test-tables.ts';

let handler: typeof import('../../functions/api.ts').handler;

beforeAll(async () => {
  await createTestTables();
  ({ handler } = await import('../../functions/api.ts'));
});

describe('GET /openapi.json', () => {
  it('answers the committed OpenAPI document to a caller without identity, as the route has no authorizer', async () => {
    const event = apiEvent({ method: 'GET', routePath: OPENAPI_ROUTE.path, rawPath: OPENAPI_ROUTE.path });
    const { authorizer: _, ...requestContext } = event.requestContext;

    const result = await handler({ ...event, requestContext } as typeof event);

    expect(result).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
    expect(JSON.parse(result.body ?? '')).toEqual(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')));
  });
});
