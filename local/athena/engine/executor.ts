/**
 * The DuckDB executor of the local Athena: one connection, on which each execution's statement
 * runs after its tables' views are (re)made over the files on disk. SELECT results and UNLOAD
 * files are written by ./select and ./unload; what a query scanned is measured by ./scan-stats.
 */
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Execution } from '../execution';
import type { AthenaContext } from '../options';
import { authorizeCatalog, authorizeOutput, authorizeReads } from './access';
import { COMPAT_MACROS, SESSION_SETTINGS } from './compat';
import { QueryError } from './errors';
import { JsonCopies } from './json-cache';
import { tableLayout } from './partitions';
import { tableFormat, tableRelation } from './relation';
import type { ScanCandidates } from './scan-stats';
import { runSelect } from './select';
import {
  assertSingleStatement, identName, quoteIdent, statementKind, stripTrailingSemicolon, substituteParameters, tokenize,
} from './sql-text';
import { runUnload } from './unload';

/** Runs executions on DuckDB, one at a time (the protocol layer's queue calls {@link run}). */
export class QueryEngine {
  /** Opens DuckDB (in memory) with the Trino compatibility settings and macros installed. */
  static async create(ctx: AthenaContext): Promise<QueryEngine> {
    const db = await DuckDBInstance.create(':memory:', { threads: '4' });
    const conn = await db.connect();
    for (const s of [...SESSION_SETTINGS, ...COMPAT_MACROS]) await conn.run(s);
    return new QueryEngine(ctx, db, conn);
  }

  private readonly schemas = new Set<string>();
  private readonly jsonCopies: JsonCopies;

  private constructor(readonly ctx: AthenaContext, private readonly db: DuckDBInstance, readonly conn: DuckDBConnection) {
    this.jsonCopies = new JsonCopies(ctx.opts.workDir);
  }

  /** Runs one execution to its end; throws what fails it (a QueryError, or a DuckDB error). */
  async run(ex: Execution): Promise<void> {
    let sql: string;
    try {
      assertSingleStatement(ex.query);
      sql = stripTrailingSemicolon(substituteParameters(ex.query, ex.parameters ?? []));
    } catch (e) {
      throw new QueryError(`${(e as Error).message}`, 2, 1000);
    }
    if (ex.injectedFailure) {
      const retryable = this.ctx.faults.failRetryable ?? false;
      throw retryable
        ? new QueryError('GENERIC_INTERNAL_ERROR: injected fault (local Athena)', 1, 200, true)
        : new QueryError('GENERIC_USER_ERROR: injected fault (local Athena)', 2, 1000, false);
    }
    authorizeOutput(this.ctx, ex);
    const kind = statementKind(sql);
    if (kind.kind === 'SELECT') return runSelect(this, ex, sql);
    if (kind.kind === 'UNLOAD') return runUnload(this, ex, sql);
    throw new QueryError(`NOT_SUPPORTED: the local Athena runs SELECT and UNLOAD statements only (got ${kind.keyword || 'an empty statement'})`, 2, 1000);
  }

  /** Interrupts the statement running now (if any). */
  interrupt(): void {
    this.conn.interrupt();
  }

  /** After each execution: a cancelled execution may have stopped with profiling still on. */
  async settle(): Promise<void> {
    await this.conn.run('PRAGMA disable_profiling').catch(() => undefined);
  }

  close(): void {
    this.conn.closeSync();
    this.db.closeSync();
  }

  /** Runs one statement of an execution, unless the execution was cancelled already. */
  async exec(ex: Execution, sql: string): Promise<void> {
    if (ex.cancelRequested) throw new QueryError('cancelled', 2);
    await this.conn.run(sql);
  }

  private async ensureSchema(name: string): Promise<void> {
    if (this.schemas.has(name)) return;
    await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
    this.schemas.add(name);
  }

  /**
   * (Re)creates the views of the tables a query names (over the files on disk right now) and
   * switches to its database; returns every file those views may read, with its size.
   */
  async prepareTables(ex: Execution, sql: string): Promise<ScanCandidates> {
    const names = new Set<string>();
    let withPath = false;
    for (const t of tokenize(sql)) {
      const n = identName(t);
      if (n === undefined) continue;
      if (t.kind === 'qident' && n === '$path') withPath = true;
      names.add(n);
    }
    await this.ensureSchema(ex.database);
    const files: ScanCandidates = { groupOf: new Map(), groups: [] };
    const rootDir = this.ctx.opts.s3.rootDir;
    for (const table of this.ctx.tables.values()) {
      const name = table.input.Name.toLowerCase();
      if (!names.has(name)) continue;
      authorizeCatalog(this.ctx, ex, table);
      const layout = tableLayout(table.input, rootDir);
      authorizeReads(this.ctx, ex, table, layout.flatMap((g) => g.files));
      const jsonCache = (this.ctx.opts.jsonCache ?? false) && tableFormat(table.input) === 'json'
        ? await this.jsonCopies.of(table.input, layout.flatMap((g) => g.files), (copySql) => this.exec(ex, copySql), () => ex.cancelRequested)
        : undefined;
      const rel = tableRelation(table.input, rootDir, withPath, { layout, jsonCache });
      rel.groups.forEach((g, i) => {
        const index = files.groups.length;
        files.groups.push({ files: rel.scans[i].length, bytes: g.reduce((a, f) => a + f.size, 0) });
        for (const path of rel.scans[i]) files.groupOf.set(path, index);
      });
      await this.ensureSchema(table.database);
      await this.exec(ex, `CREATE OR REPLACE VIEW ${quoteIdent(table.database)}.${quoteIdent(name)} AS ${rel.sql}`);
    }
    await this.exec(ex, `USE ${quoteIdent(ex.database)}`);
    return files;
  }
}
