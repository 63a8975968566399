import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SFNClient } from '@aws-sdk/client-sfn';
import { type AwsEndpoint, startAwsEndpoint } from '#local/aws-endpoint';
import { ExecutionStore } from '#local/services/execution-store';
import { LocalStateMachines } from '#local/services/state-machines';
import { LocalStepFunctions, substituteDefinition } from '#local/services/step-functions';
import { localClientConfig } from './sfn-test-kit.ts';

export const HOST_WORK_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:host-work';
/** How long the host-work Lambda stand-in works on a host that succeeds. */
const WORK_MS = 40;

/** What a host does in the host-work machine: succeed after a short while, fail, or wait to be released. */
export type HostBehaviour = 'succeed' | 'fail' | 'hold';

export interface HostWorkPayload {
  host: string;
  behaviour: HostBehaviour;
}

/** A test-only ASL file of test/fixtures/step-functions, its placeholders filled. */
export function fixtureDefinition(file: string): object {
  const text = readFileSync(resolve(import.meta.dirname, '../fixtures/step-functions', file), 'utf8');
  return substituteDefinition(text, { HostWorkStateMachineArn: HOST_WORK_ARN });
}

/**
 * One local Step Functions service with two machines, the host-work machine (test/fixtures) and a
 * parent one that starts it, on a local AWS endpoint.
 */
export interface HostWorkService {
  sfn: SFNClient;
  stateMachines: LocalStateMachines;
  parent: LocalStepFunctions;
  hostWork: LocalStepFunctions;
  /** Every call of the host-work Lambda stand-in, in order. */
  calls: HostWorkPayload[];
  /** What hosts do from now on, whatever their input says. */
  behaviourOf: Map<string, HostBehaviour>;
  /** Hosts whose work is held, waiting to be released. */
  held(): number;
  close(): Promise<void>;
  /** Ends the service as local mode's process ends: executions stay on disk as they were. */
  shutdown(): Promise<void>;
}

/**
 * `parent`: a fixture file, or a definition. `storeDir`: keep executions on disk there, as local mode
 * does (npm start).
 */
export async function startHostWorkService(
  parent: string | object,
  parentArn: string,
  storeDir?: string,
): Promise<HostWorkService> {
  const calls: HostWorkPayload[] = [];
  const behaviourOf = new Map<string, HostBehaviour>();
  const storeOf = (name: string) => (storeDir ? { store: new ExecutionStore(join(storeDir, name)) } : {});
  const waiting: (() => void)[] = [];
  const stateMachines = new LocalStateMachines();
  const hostWork = new LocalStepFunctions({
    stateMachineArn: HOST_WORK_ARN,
    definition: fixtureDefinition('host-work.asl.json'),
    stateMachines,
    ...storeOf('host-work'),
    lambdaFunctions: {
      'host-work': async (payload) => {
        const { host } = payload as HostWorkPayload;
        const behaviour = behaviourOf.get(host) ?? (payload as HostWorkPayload).behaviour;
        calls.push({ host, behaviour });
        if (behaviour === 'fail') {
          throw Object.assign(new Error(`${host} does not answer`), { name: 'HostUnreachable' });
        }
        await new Promise<void>((done) => {
          if (behaviour === 'hold') waiting.push(done);
          else setTimeout(done, WORK_MS);
        });
        return { host, done: true };
      },
    },
  });
  const parentMachine = new LocalStepFunctions({
    stateMachineArn: parentArn,
    definition: typeof parent === 'string' ? fixtureDefinition(parent) : parent,
    stateMachines,
    ...storeOf('parent'),
    lambdaFunctions: {},
  });
  const endpoint: AwsEndpoint = await startAwsEndpoint({ services: { AWSStepFunctions: stateMachines } });
  const sfn = new SFNClient(localClientConfig(endpoint.url));
  return {
    sfn,
    stateMachines,
    parent: parentMachine,
    hostWork,
    calls,
    behaviourOf,
    held: () => waiting.length,
    close: async () => {
      await stateMachines.stopAll();
      // Writes what the stores still hold, before the test removes their folder.
      stateMachines.shutdown();
      for (const release of waiting.splice(0)) release();
      sfn.destroy();
      await endpoint.close();
    },
    shutdown: async () => {
      stateMachines.shutdown();
      for (const release of waiting.splice(0)) release();
      sfn.destroy();
      await endpoint.close();
    },
  };
}
