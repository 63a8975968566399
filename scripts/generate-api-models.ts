// Writes local/api-models.json: the input shapes, with their constraints, of the operations the
// product, local mode, the tests and the benchmarks call on the services local mode answers, taken
// from botocore's service models (installed with Python). Run `npm run generate:api-models` after
// calling a new operation or upgrading botocore; local mode and the tests read only the JSON file.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ApiModels, ServiceModel, Shape, ShapeRef } from '#local/api-validation';
import { translateJavaPattern } from '#local/java-pattern';

const REPO = join(__dirname, '..');
export const API_MODELS_FILE = join(REPO, 'local', 'api-models.json');

/** The services local mode answers itself (DynamoDB is DynamoDB Local), by botocore name. */
const SERVICES = [
  // DescribeStateMachine is answered for the AWS CLI and the console's tools.
  { botocore: 'stepfunctions', client: '@aws-sdk/client-sfn', alsoAnswered: ['DescribeStateMachine'] },
  { botocore: 'ssm', client: '@aws-sdk/client-ssm', alsoAnswered: [] },
  { botocore: 'events', client: '@aws-sdk/client-eventbridge', alsoAnswered: [] },
  // An operator reads the local dead-letter and rejected-request queues with these.
  { botocore: 'sqs', client: '@aws-sdk/client-sqs', alsoAnswered: ['ReceiveMessage', 'GetQueueAttributes'] },
  { botocore: 'logs', client: '@aws-sdk/client-cloudwatch-logs', alsoAnswered: [] },
] as const;

const SOURCE_DIRS = ['functions', 'local', 'test', 'bench', 'scripts', 'infra'];

/** What botocore's loader returns for one service (the parts read here). */
interface BotocoreModel {
  metadata: { apiVersion: string; jsonVersion?: string; targetPrefix: string; awsQueryCompatible?: object };
  operations: Record<string, { input?: { shape: string } }>;
  shapes: Record<string, Record<string, unknown>>;
}

interface BotocoreDump {
  version: string;
  services: Record<string, { model: BotocoreModel; waiters: Record<string, { operation: string }> }>;
}

const DUMP_MODELS = `
import json, sys, botocore, botocore.session
loader = botocore.session.get_session().get_component('data_loader')
def waiters(name):
    try:
        return loader.load_service_model(name, 'waiters-2')['waiters']
    except Exception:
        return {}
json.dump({'version': botocore.__version__, 'services': {
    name: {'model': loader.load_service_model(name, 'service-2'), 'waiters': waiters(name)}
    for name in sys.argv[1:]}}, sys.stdout)
`;

/** botocore's models of the served services, through Python; throws when Python or botocore is missing. */
export function loadBotocoreModels(): BotocoreDump {
  const output = execFileSync(
    'python3',
    ['-c', DUMP_MODELS, ...SERVICES.map((service) => service.botocore)],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return JSON.parse(output) as BotocoreDump;
}

/** True when `python3` can import botocore (the generator's only requirement beyond Node). */
export function botocoreAvailable(): boolean {
  try {
    execFileSync('python3', ['-c', 'import botocore'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Operation names each client package is called with in the repository's sources: every `XCommand`
 * imported from it, and the operation behind every `waitUntilX` waiter it exports, by client package.
 */
export function operationsCalledInSources(
  waiterOperation: (client: string, waiter: string) => string | undefined,
): Map<string, { operations: Set<string>; waiters: Map<string, string> }> {
  const called = new Map<string, { operations: Set<string>; waiters: Map<string, string> }>(
    SERVICES.map((service) => [
      service.client,
      { operations: new Set<string>(), waiters: new Map<string, string>() },
    ]),
  );
  for (const file of sourceFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/client-[a-z-]+)'/g)) {
      const client = match[2]!;
      const calls = called.get(client);
      if (!calls) continue;
      for (const raw of match[1]!.split(',')) {
        const name = raw.trim();
        const command = /^(\w+)Command$/.exec(name);
        if (command) calls.operations.add(command[1]!);
        const waiter = /^waitUntil(\w+)$/.exec(name)?.[1];
        if (waiter) {
          const operation = waiterOperation(client, waiter);
          if (!operation)
            throw new Error(`${relative(REPO, file)}: no waiter ${waiter} in ${client}'s model`);
          calls.operations.add(operation);
          calls.waiters.set(waiter, operation);
        }
      }
    }
  }
  return called;
}

/** Which service of the data file a client package calls. */
export function targetPrefixOf(models: ApiModels, client: string): string {
  const service = SERVICES.find((candidate) => candidate.client === client)!;
  return Object.entries(models.services).find(([, model]) => model.botocoreName === service.botocore)![0];
}

function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.m?ts$/.test(entry.name)) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(join(REPO, dir));
  return files.sort();
}

/** The data file's content, built from botocore's models. */
export function generateApiModels(dump: BotocoreDump = loadBotocoreModels()): ApiModels {
  const called = operationsCalledInSources((client, waiter) => {
    const service = SERVICES.find((candidate) => candidate.client === client)!;
    return dump.services[service.botocore]?.waiters[waiter]?.operation;
  });
  const services: Record<string, ServiceModel> = {};
  for (const service of SERVICES) {
    const { model } = dump.services[service.botocore]!;
    const calls = called.get(service.client)!;
    const shapes: Record<string, Shape> = {};
    const operations: Record<string, string> = {};
    for (const operation of new Set([...calls.operations, ...service.alsoAnswered])) {
      const input = model.operations[operation]?.input?.shape;
      if (!input) throw new Error(`${operation} is not an operation of botocore's ${service.botocore} model`);
      operations[operation] = input;
      collectShapes(model, input, shapes);
    }
    services[model.metadata.targetPrefix] = {
      botocoreName: service.botocore,
      apiVersion: model.metadata.apiVersion,
      jsonVersion: model.metadata.jsonVersion ?? '1.0',
      ...(model.metadata.awsQueryCompatible ? { awsQueryCompatible: true } : {}),
      operations,
      ...(calls.waiters.size > 0 ? { waiters: Object.fromEntries(calls.waiters) } : {}),
      shapes,
    };
  }
  return sortKeys({ botocoreVersion: dump.version, services }) as ApiModels;
}

const CONSTRAINTS = ['min', 'max', 'enum', 'sensitive'] as const;

function collectShapes(model: BotocoreModel, name: string, shapes: Record<string, Shape>): void {
  if (shapes[name]) return;
  const raw = model.shapes[name];
  if (!raw) throw new Error(`botocore's model has no shape ${name}`);
  const shape: Shape = { type: raw.type as Shape['type'] };
  shapes[name] = shape;
  for (const key of CONSTRAINTS) {
    if (raw[key] !== undefined) Object.assign(shape, { [key]: raw[key] });
  }
  if (typeof raw.pattern === 'string') {
    shape.pattern = raw.pattern;
    const translation = translateJavaPattern(raw.pattern);
    if ('unsupported' in translation) shape.patternUnsupported = translation.unsupported;
    else shape.jsPattern = translation;
  }
  if (raw.type === 'structure') {
    const members = raw.members as Record<string, ShapeRef>;
    shape.members = Object.fromEntries(
      Object.entries(members).map(([member, ref]) => [member, { shape: ref.shape }]),
    );
    if (Array.isArray(raw.required) && raw.required.length > 0) shape.required = [...raw.required].sort();
    for (const ref of Object.values(members)) collectShapes(model, ref.shape, shapes);
  }
  for (const key of ['member', 'key', 'value'] as const) {
    const ref = raw[key] as ShapeRef | undefined;
    if (!ref) continue;
    shape[key] = { shape: ref.shape };
    collectShapes(model, ref.shape, shapes);
  }
}

/** Object keys sorted at every level (arrays keep their order: enum values are listed as modelled). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

if (require.main === module) {
  const models = generateApiModels();
  writeFileSync(API_MODELS_FILE, `${JSON.stringify(models, null, 2)}\n`);
  // In the project's format, so that `biome check .` stays clean.
  execFileSync(join(REPO, 'node_modules', '.bin', 'biome'), ['format', '--write', API_MODELS_FILE], {
    cwd: REPO,
    stdio: 'ignore',
  });
  const counts = Object.entries(models.services).map(
    ([prefix, service]) => `${prefix}: ${Object.keys(service.operations).length}`,
  );
  console.log(
    `${relative(REPO, API_MODELS_FILE)} written from botocore ${models.botocoreVersion} (${counts.join(', ')})`,
  );
}
