/**
 * The Athena API over HTTP (AWS JSON 1.1 on node:http): a POST whose `X-Amz-Target` names the
 * operation, a JSON body, errors as HTTP 400 `{"__type", "message"}`. Routes each operation to its
 * handler after authenticating the caller and checking its athena: action on the workgroup.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BodyTooLargeError, newRequestId, readBody, send } from '../../http';
import type { AthenaContext } from '../options';
import { ApiError } from './errors';
import { authorizeApi, batchGet, describe, getQueryResults, getWorkGroup, list, lookup } from './operations';
import type { QueryQueue } from './queue';
import { authenticate } from './sigv4';
import { QueryStarter } from './start-query';
import type { Principal } from '../../iam';

const MAX_BODY = 1024 * 1024;

/** The HTTP server of the Athena API over a queue of executions. */
export function createApiServer(ctx: AthenaContext, queue: QueryQueue, starter: QueryStarter): Server {
  const dispatch = async (op: string, input: Record<string, unknown>, principal?: Principal): Promise<unknown> => {
    const allow = (action: string, workGroup: string) => authorizeApi(ctx, principal, action, workGroup);
    switch (op) {
      case 'StartQueryExecution':
        allow('athena:StartQueryExecution', QueryStarter.workGroupOf(input));
        return starter.start(input, principal);
      case 'GetQueryExecution': {
        const ex = lookup(queue, input.QueryExecutionId);
        allow('athena:GetQueryExecution', ex.workGroup);
        return { QueryExecution: describe(ex) };
      }
      case 'GetQueryResults': return getQueryResults(ctx, queue, input, principal);
      case 'StopQueryExecution': {
        const ex = lookup(queue, input.QueryExecutionId);
        allow('athena:StopQueryExecution', ex.workGroup);
        queue.stop(ex);
        return {};
      }
      case 'BatchGetQueryExecution': return batchGet(ctx, queue, input, principal);
      case 'ListQueryExecutions': {
        allow('athena:ListQueryExecutions', typeof input.WorkGroup === 'string' ? input.WorkGroup : 'primary');
        return list(queue, input);
      }
      case 'GetWorkGroup': {
        allow('athena:GetWorkGroup', String(input.WorkGroup ?? ''));
        return getWorkGroup(ctx, input);
      }
      default: throw new ApiError('UnknownOperationException', `Operation ${op} is not supported by the local Athena`);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = newRequestId();
    const reply = (status: number, body: unknown): void => send(res, status, JSON.stringify(body), {
      'Content-Type': 'application/x-amz-json-1.1', 'x-amzn-RequestId': requestId,
    });
    try {
      if (req.method !== 'POST') throw new ApiError('InvalidRequestException', 'Only POST is supported');
      const target = String(req.headers['x-amz-target'] ?? '');
      const m = /^AmazonAthena\.(\w+)$/.exec(target);
      if (!m) throw new ApiError('UnknownOperationException', `Unknown operation ${target}`);
      let input: Record<string, unknown>;
      try {
        const raw = (await readBody(req, MAX_BODY)).toString('utf8');
        input = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch (e) {
        if (e instanceof BodyTooLargeError) throw new ApiError('InvalidRequestException', e.message);
        throw new ApiError('SerializationException', 'The request body is not valid JSON');
      }
      if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ApiError('SerializationException', 'The request body must be a JSON object');
      reply(200, await dispatch(m[1], input, authenticate(req, ctx.opts.iam)));
    } catch (e) {
      if (e instanceof ApiError) {
        reply(400, { __type: e.type, message: e.message, ...e.extra });
      } else {
        reply(500, { __type: 'InternalServerException', message: (e as Error).message });
      }
    }
  };

  return createServer((req, res) => { void handle(req, res); });
}
