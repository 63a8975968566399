/** Writes the API's OpenAPI document to openapi.json (functions/http/openapi.ts builds it). */
import { writeFileSync } from 'node:fs';
import { OPENAPI_FILE, openApiText } from '../functions/http/openapi.ts';

writeFileSync(OPENAPI_FILE, openApiText());
console.log(`Wrote ${OPENAPI_FILE}`);
