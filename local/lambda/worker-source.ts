/**
 * Source of the worker thread that hosts one warm "container" of a function: it loads the real
 * bundled handler once (init phase) and runs one invocation at a time, like the Node.js Lambda
 * runtime. Kept as a string so the runtime works unchanged when bundled by esbuild.
 */
export const WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const Module = require('node:module');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

if (process.env.NODE_PATH) Module._initPaths();

function describe(err) {
  if (err instanceof Error || (err && typeof err === 'object' && 'message' in err)) {
    return {
      errorType: typeof err.name === 'string' && err.name ? err.name : 'Error',
      errorMessage: String(err.message),
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
    };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

let handlerFn;
let initError;

async function init() {
  const { taskRoot, handler } = workerData;
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw Object.assign(new Error('Bad handler ' + handler), { name: 'Runtime.MalformedHandlerName' });
  const modulePath = path.resolve(taskRoot, handler.slice(0, dot));
  const fnPath = handler.slice(dot + 1);
  let file;
  for (const ext of ['.js', '.cjs', '.mjs']) {
    if (fs.existsSync(modulePath + ext)) { file = modulePath + ext; break; }
  }
  if (!file) {
    throw Object.assign(new Error("Cannot find module '" + path.basename(modulePath) + "'"), { name: 'Runtime.ImportModuleError' });
  }
  let mod;
  try {
    mod = file.endsWith('.mjs') ? await import(pathToFileURL(file).href) : require(file);
  } catch (e) {
    if (e instanceof SyntaxError) throw Object.assign(new Error(String(e.message)), { name: 'Runtime.UserCodeSyntaxError' });
    throw e;
  }
  let fn = mod;
  for (const part of fnPath.split('.')) fn = fn == null ? undefined : fn[part];
  if (typeof fn !== 'function') {
    throw Object.assign(new Error(handler + ' is undefined or not exported'), { name: 'Runtime.HandlerNotFound' });
  }
  handlerFn = fn;
}

const ready = init().catch((e) => { initError = e; });

function runHandler(event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err); else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err === undefined || err === null ? new Error('handled') : err);
    try {
      const r = handlerFn(event, context, callback);
      if (r && typeof r.then === 'function') {
        r.then((v) => callback(null, v), (e) => callback(e === undefined || e === null ? new Error('Promise rejected') : e));
      } else if (handlerFn.length < 3) {
        callback(null, r);
      }
    } catch (e) {
      callback(e);
    }
  });
}

// The invocation's log lines reach the parent before its result: a write's callback runs once the parent has
// taken the chunk, and the result travels on another port (without this, lines lag behind results).
function flushLogs() {
  return Promise.all([process.stdout, process.stderr].map((s) => new Promise((resolve) => s.write('', resolve))));
}

async function reply(message) {
  await flushLogs();
  parentPort.postMessage(message);
}

parentPort.on('message', async (msg) => {
  if (!msg || msg.type !== 'invoke') return;
  await ready;
  if (initError) {
    await reply({ type: 'result', id: msg.id, error: describe(initError) });
    return;
  }
  const c = msg.context;
  // The invoke phase starts now: init time does not count against the timeout (as on Lambda).
  const deadlineMs = Date.now() + c.timeoutMs;
  parentPort.postMessage({ type: 'started', id: msg.id });
  const context = {
    awsRequestId: c.awsRequestId,
    functionName: c.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: c.invokedFunctionArn,
    memoryLimitInMB: String(c.memoryLimitInMB),
    logGroupName: c.logGroupName,
    logStreamName: c.logStreamName,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
  let event;
  try {
    event = JSON.parse(msg.payload);
  } catch (e) {
    await reply({ type: 'result', id: msg.id, error: describe(e) });
    return;
  }
  try {
    const result = await runHandler(event, context);
    let text;
    try {
      text = result === undefined ? 'null' : JSON.stringify(result);
    } catch (e) {
      await reply({ type: 'result', id: msg.id, error: { errorType: 'Runtime.MarshalError', errorMessage: 'Unable to stringify response body', trace: [] } });
      return;
    }
    await reply({ type: 'result', id: msg.id, payload: text === undefined ? 'null' : text });
  } catch (e) {
    await reply({ type: 'result', id: msg.id, error: describe(e) });
  }
});
`;
