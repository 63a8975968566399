// One Lambda instance of local mode (local/lambda-runtime/instance.ts), as a worker thread or a child
// process (instance-channel.ts): loads the function's bundle once (the init phase of a cold start),
// then runs one invocation at a time, as Lambda's Node runtime does. Plain JavaScript, so that it
// runs without a TypeScript loader.

import { pathToFileURL } from 'node:url';
import { workerData as threadData, parentPort as workerPort } from 'node:worker_threads';
import { currentThreadId, lowerProcessPriority, lowerThreadPriority } from '../thread-priority.cjs';

// The stack sets NODE_OPTIONS=--enable-source-maps: stack traces point into the TypeScript sources.
process.setSourceMapsEnabled(true);
// The SDK warns that its 2027 releases need Node 22; Lambda's Node 24 never shows that warning.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (!`${warning.name} ${warning.message}`.includes('NodeVersionSupportWarning')) console.warn(warning);
});

/** An error as Lambda's runtime reports it: errorType, errorMessage, trace. */
function runtimeError(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      trace: (error.stack ?? '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: String(error), trace: [] };
}

// A worker thread gets its settings as workerData; a child process as its one argument.
const inProcess = workerPort === null;
const workerData = inProcess ? JSON.parse(process.argv[2]) : threadData;
const parentPort = inProcess
  ? { postMessage: (message) => process.send(message), on: (event, listener) => process.on(event, listener) }
  : workerPort;
const { bundle, functionName, memoryMb, nice, logGroupName, logStreamName, invokedFunctionArn } = workerData;
if (inProcess) {
  // As a worker's `error` event does: the error thrown outside the handler reaches local mode, which
  // fails the invocation with it; then the instance ends, as Lambda's runtime ends it.
  process.on('uncaughtException', (error) => {
    process.send({ type: 'uncaught', error: runtimeError(error) }, () => process.exit(1));
  });
  // Local mode ends its instances itself: Ctrl-C reaches the whole process group, this process too.
  process.on('SIGINT', () => undefined);
  // Local mode gone, however it ended: nothing is left running.
  process.on('disconnect', () => process.exit(0));
  // Every thread of the process, V8's GC helpers too, which in a worker are local mode's.
  if (nice !== undefined) lowerProcessPriority(nice);
} else if (nice !== undefined) lowerThreadPriority(nice);
let handler;
const started = performance.now();
try {
  const module = await import(pathToFileURL(bundle).href);
  handler = module.handler;
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${bundle} exports no function named handler`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  parentPort.postMessage({ type: 'ready', initMs: performance.now() - started, threadId: currentThreadId() });
} catch (error) {
  parentPort.postMessage({ type: 'init-error', error: runtimeError(error) });
}

parentPort.on('message', async ({ requestId, payload, deadline }) => {
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: requestId,
    logGroupName,
    logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  let message;
  try {
    // The payload crosses as JSON text, as it reaches a Lambda function.
    const result = await handler(JSON.parse(payload), context);
    message = { type: 'result', requestId, payload: JSON.stringify(result ?? null) };
  } catch (error) {
    message = { type: 'error', requestId, error: runtimeError(error) };
  }
  parentPort.postMessage(message);
});
