/**
 * The one template of the Lambda handlers (lambda-src/handlers/*.ts, one bundle each): a Powertools
 * Logger created once per container with the service name the construct sets, the configuration
 * read once (at the first invocation: the environment of a container never changes), the invocation
 * context added to every log line, and a failure logged once before it reaches the state machine.
 * The metrics (lib/metrics.ts: Powertools Metrics, embedded metric format on stdout) are created once per container
 * with the configuration's pipeline name and flushed at the end of every invocation, a failed one too.
 * SDK clients are created by each handler at module scope, next to the call of `lambdaHandler`.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { loadConfig, type PipelineConfig } from './config';
import { PipelineMetrics, type MetricsSink } from './metrics';
import { ENV, serviceNameOf, type HandlerName } from '../../src/contract';

/** S3 client options: checksums only where an operation requires them (the bodies are streamed, often of unknown length). */
export const S3_CLIENT_OPTIONS = { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const;

/** What a handler's body gets for one invocation. */
export interface Invocation {
  readonly config: PipelineConfig;
  readonly logger: Logger;
  /** The container's metrics (flushed when the invocation ends). */
  readonly metrics: MetricsSink;
  /** The Lambda context (absent only when a test calls the handler directly). */
  readonly context?: Context;
}

/** A Lambda handler made from `run`, following the template above. */
export function lambdaHandler<R>(asset: HandlerName, run: (event: unknown, invocation: Invocation) => Promise<R>):
(event: unknown, context?: Context) => Promise<R> {
  const logger = new Logger({ serviceName: process.env[ENV.serviceName] ?? serviceNameOf(asset) });
  let config: PipelineConfig | undefined;
  let metrics: PipelineMetrics | undefined;
  return async (event, context) => {
    if (context) logger.addContext(context);
    try {
      config ??= loadConfig();
      metrics ??= new PipelineMetrics({ pipelineName: config.pipelineName });
      return await run(event, { config, logger, metrics, context });
    } catch (err) {
      logger.error(`${asset} failed`, err as Error);
      throw err;
    } finally {
      try {
        metrics?.flush();
      } catch (err) {
        // A metric that cannot be serialised must not turn the invocation's result into a failure.
        logger.warn('metrics could not be published', err as Error);
      }
    }
  };
}
