import { describe, expect, it } from 'vitest';
import { API_MODELS } from '#local/api-validation';
import {
  botocoreAvailable,
  generateApiModels,
  loadBotocoreModels,
  operationsCalledInSources,
  targetPrefixOf,
} from '../../scripts/generate-api-models.ts';

const botocore = botocoreAvailable() ? loadBotocoreModels() : undefined;
const sameBotocore = botocore?.version === API_MODELS.botocoreVersion;
if (!botocore) {
  console.warn(
    '\n*** python3 with botocore is not installed: local/api-models.json is NOT compared with botocore. ***\n' +
      '*** Install it (pip install botocore) to check the file, and run npm run generate:api-models. ***\n',
  );
} else if (!sameBotocore) {
  console.warn(
    `\n*** local/api-models.json is from botocore ${API_MODELS.botocoreVersion}, botocore ${botocore.version} is installed: ` +
      'NOT compared. Run npm run generate:api-models to refresh it. ***\n',
  );
}

describe('the API models local mode checks requests against', () => {
  it('cover every operation and waiter the sources call on the services local mode answers', () => {
    const called = operationsCalledInSources((client, waiter) => {
      const service = API_MODELS.services[targetPrefixOf(API_MODELS, client)];
      return service?.waiters?.[waiter];
    });

    let operations = 0;
    for (const [client, calls] of called) {
      const service = API_MODELS.services[targetPrefixOf(API_MODELS, client)]!;
      for (const operation of calls.operations) {
        operations++;
        expect(service.operations, `${client} ${operation}: run npm run generate:api-models`).toHaveProperty(
          operation,
        );
      }
    }
    expect(operations).toBeGreaterThanOrEqual(15);
  });

  it.runIf(sameBotocore)('are what the generator writes from the installed botocore', () => {
    expect(API_MODELS, 'local/api-models.json is stale: run npm run generate:api-models').toEqual(
      generateApiModels(botocore),
    );
  });

  it('carry the limits AWS documents for the calls the product makes', () => {
    const ssm = API_MODELS.services.AmazonSSM!;
    const sendCommand = ssm.shapes[ssm.operations.SendCommand!]!;

    expect(ssm.shapes[sendCommand.members!.Comment!.shape]).toMatchObject({ type: 'string', max: 100 });
    expect(ssm.shapes[sendCommand.members!.TimeoutSeconds!.shape]).toMatchObject({ min: 30, max: 2_592_000 });
    expect(API_MODELS.services.AWSEvents!.shapes.PutEventsRequestEntryList).toMatchObject({
      min: 1,
      max: 10,
    });
    expect(API_MODELS.services.AWSStepFunctions!.shapes.Name).toMatchObject({ min: 1, max: 80 });
  });
});
