/**
 * Embedded local Athena endpoint: the AWS JSON 1.1 Athena API on node:http, executing queries with
 * DuckDB through a Trino compatibility layer. Tables are the Glue tables of the synthesized
 * template, read straight from the local S3 files on disk; results are written back through the
 * local S3 API. See docs/local-athena.md for the supported API, the SQL subset and the layout:
 * ./protocol is the API (routing, authentication, validation, the queue and execution states),
 * ./engine the DuckDB executor (catalog, SQL translation, SELECT results, UNLOAD).
 */
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { closeServer, endpointUrl, listen } from '../http';
import type { GlueTableInput, RegisteredTable } from './engine/catalog';
import { QueryEngine } from './engine/executor';
import type { AthenaContext, AthenaFaultOptions, LocalAthenaOptions, WorkGroupSettings } from './options';
import { QueryQueue } from './protocol/queue';
import { createApiServer } from './protocol/server';
import { QueryStarter } from './protocol/start-query';

export type { GlueTableInput } from './engine/catalog';
export { transpile, COMPAT_MACROS, SESSION_SETTINGS } from './engine/compat';
export { substituteParameters, tokenize } from './engine/sql-text';
export type { AthenaFaultOptions, AthenaIam, LocalAthenaOptions, WorkGroupSettings } from './options';
export { signV4, type SigningCredentials } from './protocol/sigv4';
export { s3Put, S3AccessDenied, type S3PutOptions } from './engine/s3-writer';

/** The local Athena server. */
export class LocalAthena {
  /** Starts the server and its DuckDB engine. */
  static async start(opts: LocalAthenaOptions): Promise<LocalAthena> {
    mkdirSync(opts.workDir, { recursive: true });
    const ctx: AthenaContext = {
      opts,
      region: opts.region ?? 'us-east-1',
      tables: new Map<string, RegisteredTable>(),
      workGroups: new Map<string, WorkGroupSettings>([['primary', {}]]),
      faults: {},
    };
    const a = new LocalAthena(ctx, await QueryEngine.create(ctx));
    const port = await listen(a.server, opts.host ?? '127.0.0.1', opts.port ?? 0);
    (a as { endpoint: string }).endpoint = endpointUrl(opts.host ?? '127.0.0.1', port);
    return a;
  }

  readonly endpoint: string = '';
  private readonly server: Server;
  private readonly queue: QueryQueue;
  private readonly starter: QueryStarter;
  private closed = false;

  private constructor(private readonly ctx: AthenaContext, private readonly engine: QueryEngine) {
    this.queue = new QueryQueue(engine);
    this.starter = new QueryStarter(ctx, this.queue);
    this.server = createApiServer(ctx, this.queue, this.starter);
    this.setFaults(ctx.opts.faults ?? {});
  }

  /** Registers (or replaces) a Glue table: the resolved CloudFormation TableInput. */
  registerTable(databaseName: string, tableInput: GlueTableInput): void {
    if (!tableInput?.Name) throw new Error('TableInput.Name is required');
    this.ctx.tables.set(`${databaseName.toLowerCase()}.${tableInput.Name.toLowerCase()}`, { database: databaseName.toLowerCase(), input: tableInput });
  }

  /** Registers (or replaces) a workgroup. `primary` exists from the start. */
  registerWorkGroup(name: string, cfg: WorkGroupSettings): void {
    this.ctx.workGroups.set(name, { ...cfg });
  }

  /**
   * Registers a workgroup from its CloudFormation `WorkGroupConfiguration` (resolved): output
   * location, enforcement, bytes-scanned cutoff, result ACL and result encryption.
   */
  registerWorkGroupConfiguration(name: string, c: Record<string, any>): void {
    const rc = c.ResultConfiguration ?? {};
    this.registerWorkGroup(name, {
      outputLocation: rc.OutputLocation,
      enforce: c.EnforceWorkGroupConfiguration,
      bytesScannedCutoffPerQuery: c.BytesScannedCutoffPerQuery,
      s3AclOption: rc.AclConfiguration?.S3AclOption,
      encryption: rc.EncryptionConfiguration?.EncryptionOption
        ? { option: rc.EncryptionConfiguration.EncryptionOption, kmsKey: rc.EncryptionConfiguration.KmsKey } : undefined,
    });
  }

  /** Replaces the fault options (counters restart). */
  setFaults(f: AthenaFaultOptions): void {
    this.ctx.faults = { ...f };
    this.starter.resetFaults();
  }

  /** Stops the server, cancels running work and closes DuckDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.close(() => closeServer(this.server));
    this.engine.close();
  }
}
