/**
 * One query execution of the local Athena, as the protocol layer queues and describes it and the
 * engine runs it.
 */
import type { Principal } from '../iam';
import type { AthenaColumnInfo } from './engine/results';

export type QueryState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface AthenaErrorInfo {
  ErrorCategory: number;
  ErrorType: number;
  Retryable: boolean;
  ErrorMessage: string;
}

export interface Execution {
  id: string;
  query: string;
  parameters?: string[];
  workGroup: string;
  database: string;
  catalog: string;
  outputLocation: string;
  statementType: 'DML' | 'DDL' | 'UTILITY';
  substatementType: string;
  state: QueryState;
  stateChangeReason?: string;
  athenaError?: AthenaErrorInfo;
  submitted: number;
  started?: number;
  completed?: number;
  dataScanned: number;
  engineMs: number;
  cancelRequested: boolean;
  cancelReason?: string;
  injectedFailure?: boolean;
  fingerprint: string;
  rowsFile?: string;
  columns?: AthenaColumnInfo[];
  /** Who started the query (IAM enforcement): Athena acts with this identity. */
  principal?: Principal;
}
