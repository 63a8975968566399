import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
// The generated document (npm run generate:openapi), bundled as data: its generator stays out of the bundle.
import document from '../../openapi.json' with { type: 'json' };

let body: string | undefined;

/** `GET /openapi.json`: the API's OpenAPI document, to anyone (the route has no authorizer). */
export function openApiAnswer(): APIGatewayProxyStructuredResultV2 {
  body ??= JSON.stringify(document);
  return { statusCode: 200, headers: { 'content-type': 'application/json' }, body };
}
